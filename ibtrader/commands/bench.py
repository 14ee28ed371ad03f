"""`ibtrader bench …`: benchmarks that report ratios against a peer measured in the same run."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="measure performance (gateway, …)")
    benches = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    g = benches.add_parser("gateway", help="gateway throughput to one ib_async client; "
                                           "--soak: pacing violations of the adapter over time")
    g.add_argument("--symbols", type=int, default=100, help="symbols to stream (default 100)")
    g.add_argument("--seconds", type=float, default=10.0, help="measuring time (default 10)")
    g.add_argument("--tick-interval", type=float, default=0.01,
                   help="the gateway's quote interval in seconds (default 0.01: a firehose)")
    g.add_argument("--soak", type=float, metavar="SECONDS",
                   help="instead: run the IB adapter for SECONDS and count pacing violations")
    g.add_argument("--json", action="store_true", help="print the result as JSON")
    g.set_defaults(handler=run_gateway)
    bt = benches.add_parser("backtest", help="our backtest vs backtesting.py (same data, "
                                             "same trades), in one process and whole runs")
    bt.add_argument("--bars", type=int, default=100_000, help="bars in one process (100000)")
    bt.add_argument("--command-bars", type=int, default=300_000,
                    help="hourly bars in the CSV of the whole-command runs (300000)")
    bt.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    bt.add_argument("--json", action="store_true", help="print the result as JSON")
    bt.set_defaults(handler=run_backtest)
    en = benches.add_parser("engine", help="ticks/s through bars, indicators and strategies, "
                                           "tick-to-signal latency, indicator update costs")
    en.add_argument("--symbols", type=_positive, default=100, help="symbols (default 100)")
    span = en.add_mutually_exclusive_group()
    span.add_argument("--seconds", type=float, default=2_400.0,
                      help="market seconds of quotes, 4 a second per symbol (default 2400)")
    span.add_argument("--ticks", type=_positive, help="instead: this many quotes in all")
    en.add_argument("--batch", type=_sizes, default=(100, 1), metavar="N[,N…]",
                    help="quotes per batch handed in; throughput is judged on the first "
                         "(default 100,1: one simulator socket read, then a lone tick)")
    en.add_argument("--repeat", type=_positive, default=3, help="runs of each; the best counts")
    en.add_argument("--indicator-updates", type=int, default=200_000,
                    help="updates per indicator in its bench (0: skip it)")
    en.add_argument("--json", action="store_true", help="print the result as JSON")
    en.set_defaults(handler=run_engine)
    od = benches.add_parser("orders", help="order round trips (submit -> acknowledged -> "
                                           "filled) through the app vs bare ib_async")
    od.add_argument("--orders", type=_positive, default=200,
                    help="orders of each kind (market, marketable limit) per client (200)")
    od.add_argument("--json", action="store_true", help="print the result as JSON")
    od.set_defaults(handler=run_orders)
    gu = benches.add_parser("gui", help="desktop app: first window time, event-loop stall "
                                        "with 100 symbols streaming, chart render/redraw")
    gu.add_argument("--starts", type=int, default=3,
                    help="starts of `ibtrader gui` to time (first cold; 0: skip)")
    gu.add_argument("--symbols", type=int, default=100,
                    help="symbols streaming through the watchlist (0: skip)")
    gu.add_argument("--seconds", type=float, default=10.0, help="streaming time (default 10)")
    gu.add_argument("--tick-interval", type=float, default=0.1,
                    help="the gateway's quote interval per symbol (default 0.1 s)")
    gu.add_argument("--no-chart", action="store_true", help="skip the chart numbers")
    gu.add_argument("--json", action="store_true", help="print the result as JSON")
    gu.set_defaults(handler=run_gui)
    ap = benches.add_parser("api", help="REST API req/s and latency from a load process on "
                                        "loopback while symbols stream; its cost to the engine")
    ap.add_argument("--seconds", type=float, default=5.0, help="per phase (default 5)")
    ap.add_argument("--symbols", type=_positive, default=100, help="streaming (default 100)")
    ap.add_argument("--connections", type=_positive, default=2,
                    help="keep-alive connections of the load process (default 2)")
    ap.add_argument("--rate", type=float, default=50.0,
                    help="req/s of the engine-cost phase (default 50)")
    ap.add_argument("--order-rate", type=float, default=20.0,
                    help="order placements per second (default 20; IBKR allows 50 msg/s)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.set_defaults(handler=run_api)
    ob = benches.add_parser("outbox", help="the backing services' cost to the loop: journal "
                                           "writes with mirrors, lateness while charting")
    ob.add_argument("--signals", type=_positive, default=2_000,
                    help="traded signals journaled into each configuration (default 2000)")
    ob.add_argument("--decisions", type=_positive, default=20,
                    help="decisions charted in one burst (default 20)")
    ob.add_argument("--json", action="store_true", help="print the result as JSON")
    ob.set_defaults(handler=run_outbox)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_gateway(args: argparse.Namespace) -> int:
    if args.soak:
        from ibtrader.benchmarks.soak import run_soak

        result = run_soak(symbols=args.symbols, seconds=args.soak)
    else:
        from ibtrader.benchmarks.gateway import run_gateway_bench

        result = run_gateway_bench(args.symbols, args.seconds, args.tick_interval)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print("\n".join(result.lines()))
    return 0


def run_backtest(args: argparse.Namespace) -> int:
    from ibtrader.benchmarks.backtest import run_backtest_bench

    result = run_backtest_bench(args.bars, args.command_bars, repeat=args.repeat)
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    return 0


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(_positive(part.strip()) for part in text.split(","))


def run_engine(args: argparse.Namespace) -> int:
    import sys

    from ibtrader.benchmarks.engine import run_engine_bench

    try:
        result = run_engine_bench(args.symbols, args.seconds, ticks=args.ticks,
                                  batches=args.batch, repeat=args.repeat,
                                  indicator_updates=args.indicator_updates,
                                  progress=lambda text: print(text, file=sys.stderr))
    except ValueError as exc:
        print(f"ibtrader bench engine: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    return 0


def run_orders(args: argparse.Namespace) -> int:
    import sys

    from ibtrader.benchmarks.orders import run_orders_bench

    result = run_orders_bench(args.orders, progress=lambda text: print(text, file=sys.stderr))
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    return 0


def run_gui(args: argparse.Namespace) -> int:
    import sys

    from ibtrader.benchmarks.gui import run_gui_bench

    result = run_gui_bench(startup_runs=args.starts, symbols=args.symbols, seconds=args.seconds,
                           tick_interval=args.tick_interval, chart=not args.no_chart,
                           progress=lambda text: print(text, file=sys.stderr))
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    return 0


def run_api(args: argparse.Namespace) -> int:
    import sys

    from ibtrader.benchmarks.api import run_api_bench

    result = run_api_bench(seconds=args.seconds, symbols=args.symbols,
                           connections=args.connections, rate=args.rate,
                           order_rate=args.order_rate,
                           progress=lambda text: print(text, file=sys.stderr))
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    return 0


def run_outbox(args: argparse.Namespace) -> int:
    import sys

    from ibtrader.benchmarks.outbox import run_outbox_bench

    result = run_outbox_bench(args.signals, args.decisions,
                              progress=lambda text: print(text, file=sys.stderr))
    print(json.dumps(result.as_dict(), indent=2) if args.json else "\n".join(result.lines()))
    return 0
