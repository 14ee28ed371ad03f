"""One backtest as a trader asks for it (the desktop dialog, the REST API), and the blocking
run of it. No Qt, no web: `BacktestJobs` (jobs.py) runs these in worker processes.

    job = BacktestJob("sma_cross", {"fast": 5}, symbol="AAPL", bar_size="1 hour",
                      start=..., end=...)
    result = run_backtest(job, settings, progress)   # progress(done, total)
    payload = result_json(result)                      # what the API answers

The same path as `ibtrader backtest`: a strategy by name (user strategies too), bars from
a CSV file or the simulator's seeded history, `BacktestRunner` through the simulator's
matching engine, `BacktestReport` for the statistics and trades.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ibtrader.backtest.report import BacktestReport
from ibtrader.backtest.runner import BacktestConfig, BacktestRunner
from ibtrader.commands.backtest import parse_commission
from ibtrader.core.strategies import STRATEGIES, load_strategy, load_user_strategies

Progress = Callable[[int, int], None]
EQUITY_POINTS = 2000  # an equity curve in JSON: enough for any screen, small to send


@dataclass(frozen=True)
class BacktestJob:
    strategy: str
    params: Mapping[str, Any] = field(default_factory=dict)
    symbol: str = ""  # the simulator's history for this symbol ...
    csv: Path | None = None  # ... or the bars of a CSV file
    bar_size: str = ""  # with a symbol: "" means the strategy's own
    start: float | None = None  # epoch seconds, UTC
    end: float | None = None
    cash: float = 10_000.0
    commission: str = "ib"  # 0, ib, or a percent such as 0.1%
    fill: str = "next-open"
    sizing: str = "risk"
    risk_pct: float = 1.0

    def __post_init__(self) -> None:
        if bool(self.symbol.strip()) == (self.csv is not None):
            raise ValueError("give a symbol or a CSV file, not both and not neither")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("the range is empty: the start must be before the end")

    def as_json(self) -> dict[str, Any]:
        """The inputs as plain JSON values (a job's status shows them)."""
        values = dataclasses.asdict(self)
        values["params"] = dict(self.params)
        values["csv"] = None if self.csv is None else str(self.csv)
        return values


@dataclass
class BacktestResult:
    report: BacktestReport
    equity: np.ndarray  # at each bar's close
    times: np.ndarray  # epoch seconds of the bars


def run_backtest(job: BacktestJob, settings: Any, progress: Progress | None = None
                 ) -> BacktestResult:
    """Runs to the end (blocking: a worker process runs it). ValueError for bad input."""
    if job.strategy not in STRATEGIES:
        load_user_strategies(settings.strategies_dir)
    strategy = load_strategy(job.strategy, **dict(job.params))
    bars, instrument = _bars(job, strategy.bar_size, settings)
    config = BacktestConfig(cash=job.cash, fill=job.fill, sizing=job.sizing,
                            commissions=parse_commission(job.commission),
                            risk_pct=job.risk_pct,
                            fallback_stop_pct=settings.default_stop_pct)
    output = BacktestRunner(strategy, bars, config, instrument).run(progress)
    shown = {"fill": job.fill, "sizing": job.sizing, "commission": job.commission,
             "cash": job.cash, "params": strategy.p.as_dict()}
    report = BacktestReport.of(strategy.name, output, shown, job.cash)
    return BacktestResult(report, np.asarray(output.equity), np.asarray(output.bars.time))


def _bars(job: BacktestJob, strategy_bar_size: str, settings: Any) -> tuple[Any, Any]:
    if job.csv is not None:
        from ibtrader.backtest.csv_bars import load_csv

        bars = load_csv(job.csv).between(job.start, job.end)
        if len(bars) == 0:
            raise ValueError(f"{job.csv} has no bars in the range given")
        return bars, None
    from ibtrader.backtest.sim_history import sim_bars

    if job.start is None or job.end is None:
        raise ValueError("a backtest on the simulator's history needs a start and an end")
    return sim_bars(job.symbol.strip().upper(), job.bar_size or strategy_bar_size, job.start,
                    job.end, settings.sim_seed, settings.sim_around_the_clock)


# --- the result as JSON ----------------------------------------------------------------------

def result_json(result: BacktestResult, points: int = EQUITY_POINTS) -> dict[str, Any]:
    """The statistics (null where undefined: no trades, no variance), every trade, and the
    equity curve thinned to at most `points` points that keep its peaks and troughs."""
    whole = result.report.as_dict()  # the CLI's --json shape, stats at the top level
    names = ["number_of_trades" if f.name == "trades" else f.name  # "trades" is the list
             for f in dataclasses.fields(result.report.stats)]
    stats = {name: whole[name] for name in names}
    keep = thin_indices(result.equity, points)
    equity = [{"time": float(t), "value": _finite(v)}
              for t, v in zip(result.times[keep].tolist(), result.equity[keep].tolist(),
                              strict=True)]
    return {
        "strategy": whole["strategy"], "symbol": whole["symbol"], "bars": whole["bars"],
        "start": whole["start"], "end": whole["end"], "settings": whole["settings"],
        "open_position": whole["open_position"], "skipped_entries": whole["skipped_entries"],
        "stats": stats, "trades": whole["trades"], "equity": equity,
    }


def thin_indices(values: np.ndarray, points: int = EQUITY_POINTS) -> np.ndarray:
    """Indices of at most `points` values, in order: the first and last, and the lowest and
    highest of each stretch, so a drawdown is never smoothed away."""
    n = len(values)
    if n <= points:
        return np.arange(n)
    buckets = np.array_split(np.arange(1, n - 1), max((points - 2) // 2, 1))
    chosen = [0, n - 1]
    for bucket in buckets:
        stretch = values[bucket]
        chosen += [int(bucket[np.argmin(stretch)]), int(bucket[np.argmax(stretch)])]
    return np.unique(np.asarray(chosen))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


__all__ = ["BacktestJob", "BacktestResult", "Progress", "result_json", "run_backtest",
           "thin_indices"]
