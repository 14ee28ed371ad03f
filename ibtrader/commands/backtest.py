"""`ibtrader backtest`: run a strategy over history (a CSV file, or the simulator's prices
for a symbol) through the simulator's matching engine, and report the results.

Bad input (unknown strategy, bad parameter, malformed CSV, empty range) is one line on
stderr and exit status 2. Imports stay lean (no Qt, no ib_async): this module is imported
by the CLI for its parser, and everything heavy is imported by `run`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import Any

PROG = "ibtrader backtest"
LONG_RUN = 20_000  # bars from which a progress bar is shown (on a terminal)
# how far back --symbol reaches without --from, by bar length in seconds
DEFAULT_SPAN = ((60, 30), (300, 90), (1800, 180), (3600, 365), (86_400, 5 * 365))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "backtest", help="test a strategy on history (CSV or the simulator's prices)",
        description="Run a strategy bar by bar over history through the simulator's matching "
                    "engine and report return, CAGR, drawdown, Sharpe, win rate, exposure, "
                    "the trades and an equity-curve PNG.")
    p.add_argument("--strategy", required=True, metavar="NAME",
                   help="sma_cross, rsi_reversion, macd_cross, bollinger_breakout, "
                        "supertrend, or a user strategy")
    p.add_argument("--param", action="append", default=[], metavar="K=V",
                   help="a strategy parameter, e.g. --param fast=10 (repeatable)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", metavar="FILE", help="OHLCV bars from a CSV file")
    source.add_argument("--symbol", metavar="SYM",
                        help="the simulator's history for SYM (same seed as the gateway)")
    p.add_argument("--bar-size", metavar="SIZE",
                   help="with --symbol: IB's bar size ('1 hour', '5 mins', '1 day'); "
                        "default: the strategy's")
    p.add_argument("--from", dest="start", metavar="DATE",
                   help="first bar time (YYYY-MM-DD or ISO time, UTC)")
    p.add_argument("--to", dest="end", metavar="DATE", help="bars before this time")
    p.add_argument("--cash", type=float, default=10_000.0, help="starting cash (10000)")
    p.add_argument("--commission", default="0", metavar="SPEC",
                   help="0, ib (IB tiered), or a percent of the traded value: 0.1%% "
                        "(default 0)")
    p.add_argument("--fill", choices=("next-open", "close"), default="next-open",
                   help="orders fill at the next bar's open (default) or this bar's close")
    p.add_argument("--sizing", choices=("risk", "all-in"), default="risk",
                   help="risk: --risk %% of equity over the stop distance (default); "
                        "all-in: all available cash in whole units")
    p.add_argument("--risk", type=float, metavar="PCT",
                   help="percent of equity risked per trade (default: the settings')")
    p.add_argument("--no-chart", action="store_true", help="do not write the equity PNG")
    p.add_argument("--full-loop", action="store_true",
                   help="call the strategy on every bar (no vectorised pre-filter)")
    p.add_argument("--engine-orders", action="store_true",
                   help="send plain market orders through the matching engine too")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ibtrader.commands.config import load_settings_or_exit

    settings = load_settings_or_exit(args)
    try:
        return _run(args, settings)
    except (ValueError, OSError) as exc:  # CsvFormatError, bad params, ... are ValueErrors
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, settings: Any) -> int:
    from ibtrader.backtest.report import BacktestReport
    from ibtrader.backtest.runner import BacktestConfig, BacktestRunner

    strategy = _strategy(args.strategy, _params(args.param), settings)
    bars, instrument = _bars(args, strategy, settings)
    config = BacktestConfig(
        cash=args.cash, fill=args.fill, sizing=args.sizing,
        commissions=parse_commission(args.commission),
        risk_pct=args.risk if args.risk is not None else settings.risk_per_trade_pct,
        fallback_stop_pct=settings.default_stop_pct, prefilter=not args.full_loop,
        lean=not args.engine_orders)
    runner = BacktestRunner(strategy, bars, config, instrument)
    progress = _progress_bar() if len(bars) >= LONG_RUN and sys.stderr.isatty() else None
    output = runner.run(progress)
    shown = {"fill": args.fill, "sizing": args.sizing, "commission": args.commission,
             "cash": args.cash, "params": strategy.p.as_dict()}
    if args.sizing == "risk":
        shown["risk_pct"] = config.risk_pct
    report = BacktestReport.of(strategy.name, output, shown, args.cash)
    if not args.no_chart:
        report.chart = _store_chart(report, output, settings)
    if args.json:
        print(json.dumps(report.as_dict()))  # no indent: the C encoder, ~5x faster
    else:
        print("\n".join(report.lines()))
    return 0


def _strategy(name: str, params: dict[str, str], settings: Any) -> Any:
    from ibtrader.core.strategies import STRATEGIES, load_strategy, load_user_strategies

    if name not in STRATEGIES:
        _, errors = load_user_strategies(settings.strategies_dir)
        for error in errors:
            print(f"{PROG}: warning: {error}", file=sys.stderr)
    return load_strategy(name, **params)


def _params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param {pair!r}: write it as name=value, e.g. fast=10")
        params[key.strip()] = value.strip()
    return params


def parse_commission(spec: str) -> Any:
    from ibtrader.sim.commissions import IBTieredStyle, NoCommission, PercentOfValue

    text = spec.strip().lower()
    if text in ("ib", "tiered", "ib-tiered"):
        return IBTieredStyle()
    try:
        percent = float(text.removesuffix("%"))
    except ValueError:
        raise ValueError(f"--commission {spec!r}: give 0, ib, or a percent such as 0.1%") \
            from None
    if not 0 <= percent < 10:
        raise ValueError(f"--commission {spec!r}: a percent in [0, 10) please")
    return NoCommission() if percent == 0 else PercentOfValue(percent / 100.0)


def parse_time(text: str | None, what: str) -> float | None:
    """Epoch seconds of a --from/--to value (a date, or an ISO time; UTC if no zone)."""
    if text is None:
        return None
    try:
        stamp = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a date: use YYYY-MM-DD or "
                         "YYYY-MM-DDTHH:MM") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _bars(args: argparse.Namespace, strategy: Any, settings: Any) -> tuple[Any, Any]:
    start, end = parse_time(args.start, "--from"), parse_time(args.end, "--to")
    if start is not None and end is not None and end <= start:
        raise ValueError("the range is empty: --from must be before --to")
    if args.csv:
        from ibtrader.backtest.csv_bars import load_csv

        if args.bar_size:
            raise ValueError("--bar-size applies to --symbol; a CSV's bars are used as "
                             "they are")
        bars = load_csv(args.csv).between(start, end)
        if len(bars) == 0:
            raise ValueError(f"{args.csv} has no bars in the range given")
        return bars, None
    from ibtrader.backtest.sim_history import sim_bars
    from ibtrader.sim.market.history import parse_bar_size

    bar_size = args.bar_size or strategy.bar_size
    end = end if end is not None else time.time()
    if start is None:
        seconds = parse_bar_size(bar_size) if _legal(bar_size) else 3600
        days = next((d for s, d in reversed(DEFAULT_SPAN) if seconds >= s), 30)
        start = end - days * 86_400
    return sim_bars(args.symbol, bar_size, start, end, settings.sim_seed,
                    settings.sim_around_the_clock)


def _legal(bar_size: str) -> bool:
    from ibtrader.sim.market.history import HistoryRequestError, parse_bar_size

    try:
        parse_bar_size(bar_size)
    except HistoryRequestError:
        return False
    return True


def _store_chart(report: Any, output: Any, settings: Any) -> str:
    from ibtrader.adapters.objects import FolderObjectStore
    from ibtrader.backtest.chart import equity_png

    title = (f"{report.strategy} {report.symbol}  final {report.stats.final_equity:,.2f}  "
             f"return {report.stats.total_return_pct:.2f}%  trades {report.stats.trades}")
    png = equity_png(output.equity, output.bars.time, title, report.stats.start_equity)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    safe = "".join(c if c.isalnum() else "_" for c in report.symbol)
    key = f"charts/backtests/{report.strategy}-{safe}-{stamp}.png"
    store = FolderObjectStore(settings.objects_dir)
    store.put(key, png)
    return str(store.root / key)


def _progress_bar() -> Any:
    width = 30

    def show(done: int, total: int) -> None:
        filled = width * done // max(total, 1)
        end = "\n" if done >= total else ""
        print(f"\rbacktest [{'#' * filled}{'.' * (width - filled)}] "
              f"{100 * done // max(total, 1):3d}%", end=end, file=sys.stderr, flush=True)

    return show
