"""A finished backtest, machine-readable (`as_dict`, what --json prints) and for people
(`lines`: a summary and the trades table)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .bars import iso_time
from .broker import Trade
from .runner import RunOutput
from .stats import Stats, compute_stats

SHOWN_TRADES = 50  # the text table shows the first and last of these; --json has all


@dataclass
class BacktestReport:
    strategy: str
    symbol: str
    settings: dict[str, Any]
    stats: Stats
    trades: list[Trade]
    bars: int
    first_time: float
    last_time: float
    open_position: float
    skipped: list[str] = field(default_factory=list)
    chart: str | None = None  # where the equity PNG was stored

    @classmethod
    def of(cls, strategy: str, output: RunOutput, settings: dict[str, Any],
           start_equity: float) -> BacktestReport:
        b = output.bars
        stats = compute_stats(output.equity, output.position, output.trades, b.time,
                              start_equity)
        return cls(strategy, b.symbol, settings, stats, output.trades, len(b),
                   float(b.time[0]), float(b.time[-1]), output.final_position,
                   output.skipped)

    def as_dict(self) -> dict[str, Any]:
        stats = {k: _number(v) for k, v in asdict(self.stats).items()}
        stats["number_of_trades"] = stats.pop("trades")  # "trades" is the list below
        return {
            "strategy": self.strategy, "symbol": self.symbol, "settings": self.settings,
            "bars": self.bars, "start": iso_time(self.first_time),
            "end": iso_time(self.last_time), **stats,
            "open_position": self.open_position, "chart": self.chart,
            "skipped_entries": self.skipped,
            "trades": _trade_dicts(self.trades),
        }

    def lines(self) -> list[str]:
        s = self.stats
        out = [
            f"{self.strategy} on {self.symbol}: {self.bars} bars, "
            f"{iso_time(self.first_time)} .. {iso_time(self.last_time)}",
            "  " + ", ".join(f"{k} {v}" for k, v in self.settings.items()),
            "",
            f"  start equity      {s.start_equity:>14,.2f}",
            f"  final equity      {s.final_equity:>14,.2f}",
            f"  total return      {_pct(s.total_return_pct):>14}",
            f"  CAGR              {_pct(s.cagr_pct):>14}",
            f"  max drawdown      {_pct(s.max_drawdown_pct):>14}",
            f"  Sharpe            {_plain(s.sharpe):>14}",
            f"  win rate          {_pct(s.win_rate_pct):>14}",
            f"  trades            {s.trades:>14}",
            f"  exposure          {_pct(s.exposure_pct):>14}",
        ]
        if self.open_position:
            way = "long" if self.open_position > 0 else "short"
            held = f"{way} {abs(self.open_position):g}"
            out.append(f"  open at the end   {held:>14}")
        if self.chart:
            out.append(f"  equity chart      {self.chart}")
        if self.skipped:
            out.append(f"  entries skipped   {len(self.skipped):>14}  (first: "
                       f"{self.skipped[0]})")
        out += ["", *self._table()]
        return out

    def _table(self) -> list[str]:
        if not self.trades:
            return ["  no trades"]
        head = (f"  {'entry time':<20} {'exit time':<20} {'side':<5} {'size':>10} "
                f"{'entry':>12} {'exit':>12} {'pnl':>12} {'comm.':>8} exit by")
        rows = [head]
        trades = self.trades
        half = SHOWN_TRADES // 2
        shown = trades if len(trades) <= SHOWN_TRADES else [*trades[:half], None,
                                                             *trades[-half:]]
        for t in shown:
            if t is None:
                rows.append(f"  ... {len(trades) - SHOWN_TRADES} more (all of them: --json)")
                continue
            rows.append(f"  {iso_time(t.entry_time):<20} {iso_time(t.exit_time):<20} "
                        f"{t.side:<5} {t.size:>10g} {t.entry_price:>12.4f} "
                        f"{t.exit_price:>12.4f} {t.pnl:>12.2f} {t.commission:>8.2f} "
                        f"{t.exit_reason}")
        return rows


def _trade_dicts(trades: list[Trade]) -> list[dict[str, Any]]:
    # times converted all at once: one datetime per trade and side costs ~3 us each
    entries = iso_times([t.entry_time for t in trades])
    exits = iso_times([t.exit_time for t in trades])
    return [{
        "entry_time": entry, "exit_time": exit_, "entry_bar": t.entry_bar,
        "exit_bar": t.exit_bar, "side": t.side, "size": t.size,
        "entry_price": t.entry_price, "exit_price": t.exit_price, "pnl": t.pnl,
        "commission": t.commission, "exit_reason": t.exit_reason,
    } for t, entry, exit_ in zip(trades, entries, exits, strict=True)]


def iso_times(seconds: list[float]) -> list[str]:
    """Like `iso_time` for many: whole seconds as 2024-01-02T14:30:00Z, else with
    milliseconds."""
    stamps = np.asarray(seconds, dtype=float)
    whole = bool(np.all(stamps == np.floor(stamps)))
    unit = "s" if whole else "ms"
    as_dt = (stamps if whole else np.round(stamps * 1000)).astype(f"datetime64[{unit}]")
    return [text + "Z" for text in np.datetime_as_string(as_dt, unit=unit).tolist()]


def _number(value: Any) -> Any:
    """NaN is not JSON: an undefined statistic (no trades, no variance) is null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _pct(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}%"


def _plain(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}"
