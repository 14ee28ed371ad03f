"""`ibtrader gateway`: run the simulated IB Gateway until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from ibtrader.commands.config import load_settings_or_exit
from ibtrader.logging_setup import configure_logging
from ibtrader.sim.faults import FaultSyntaxError, parse_fault

log = logging.getLogger("ibtrader.gateway")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gateway",
        help="run the simulated IB Gateway (any TWS API client can connect)",
        description="Run the simulated IB Gateway: a TWS API server with a simulated market, "
                    "matching engine and paper account.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=4002, help="port to listen on (default 4002)")
    p.add_argument("--seed", type=int, help="price seed (default: settings' sim_seed)")
    p.add_argument("--state", type=Path, metavar="FILE",
                   help="SQLite file keeping the paper account and GTC orders across restarts")
    p.add_argument("--real-hours", action="store_true",
                   help="follow the instruments' real trading hours "
                        "(default: open around the clock)")
    p.add_argument("--control-port", type=int, default=None,
                   help="loopback port for `ibtrader fault` (default: PORT + 100; 0 disables)")
    p.add_argument("--tick-interval", type=float, default=0.25, metavar="SECONDS",
                   help="seconds between quote updates per symbol (default 0.25)")
    p.add_argument("--extra-symbols", type=int, default=0, metavar="N",
                   help="add N synthetic stocks SIM000… to the universe (for load tests)")
    p.add_argument("--firehose", action="store_true",
                   help="benchmarks: re-send every quote field on every tick, changed or not")
    p.add_argument("--fault", action="append", default=[], metavar="KIND[:ARG]@SECONDS",
                   help="inject a fault SECONDS after start, e.g. drop@30, outage:5@60 "
                        "(drop, outage:S, stall:S, reject:REASON, pacing); repeatable")
    p.set_defaults(handler=run)


def parse_scheduled(text: str) -> tuple[float, str]:
    spec, at, seconds = text.rpartition("@")
    if not at:
        raise FaultSyntaxError(f"{text!r}: write the fault as KIND[:ARG]@SECONDS, e.g. drop@30")
    try:
        delay = float(seconds)
    except ValueError:
        raise FaultSyntaxError(f"{text!r}: {seconds!r} is not a number of seconds") from None
    parse_fault(spec)
    return delay, spec


def run(args: argparse.Namespace) -> int:
    from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway

    settings = load_settings_or_exit(args)
    configure_logging(settings)
    try:
        scheduled = [parse_scheduled(text) for text in args.fault]
    except FaultSyntaxError as exc:
        log.error("bad --fault: %s", exc)
        return 2
    control_port = args.port + 100 if args.control_port is None else args.control_port
    config = GatewayConfig(
        host=args.host, port=args.port,
        seed=settings.sim_seed if args.seed is None else args.seed,
        state_file=args.state or settings.sim_state_file,
        around_the_clock=not args.real_hours and settings.sim_around_the_clock,
        control_port=control_port or None,
        tick_interval=args.tick_interval,
        extra_symbols=args.extra_symbols,
        firehose=args.firehose,
    )
    if config.state_file is not None:
        Path(config.state_file).parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with SimulatedGateway(config) as gateway:
        log.info("simulated IB Gateway on %s:%d (seed %d, state %s)%s", config.host,
                 gateway.port, config.seed, config.state_file,
                 f"; faults: ibtrader fault KIND --control-port {control_port}"
                 if control_port else "")
        timers = [threading.Timer(delay, gateway.inject, (spec,)) for delay, spec in scheduled]
        for timer in timers:
            timer.daemon = True
            timer.start()
        stop.wait()
        for timer in timers:
            timer.cancel()
        log.info("stopping")
    return 0
