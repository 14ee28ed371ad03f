"""The trading engine driven by bar events: signals and decisions journalled and
published, the trader's accept/dismiss, expiry, auto-trade, per-strategy switches, and a
broken strategy kept away from the rest. The order-submission port is a recording test
double (the order manager is the next issue); bars, journal and strategies are real."""

from __future__ import annotations

import asyncio
import sqlite3
import textwrap
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from ibtrader.adapters.journal import SqliteJournal
from ibtrader.adapters.objects import FolderObjectStore
from ibtrader.adapters.objects.parquet_bars import ParquetBarStore
from ibtrader.app import trading_engine
from ibtrader.config import Settings
from ibtrader.core.decisions import (
    ALREADY_POSITIONED,
    AUTO_TRADE_UNAVAILABLE,
    STRATEGY_DISABLED,
    SUBMISSION_FAILED,
    Decision,
    DecisionError,
    DecisionState,
    SignalRecord,
)
from ibtrader.core.events import Event
from ibtrader.core.indicators.sample import random_ohlcv
from ibtrader.core.market import Bar
from ibtrader.core.ports import AccountSnapshot
from ibtrader.core.strategies import load_strategy
from ibtrader.core.strategy_runner import StrategyRunner
from ibtrader.services.history_cache import HistoryCache
from ibtrader.services.market_data import MarketDataService
from ibtrader.services.trading_engine import TradingEngine, parse_strategy_spec
from tests.services.test_market_data_cache import (  # noqa: F401  (fixtures)
    gateway,
    new_broker,
    run,
    sim_clock,
    until,
)

S = DecisionState
T0 = 1_704_205_800.0

# User strategies, loaded by the engine from settings.strategies_dir as a trader would.
USER_STRATEGIES = {
    "updown.py": '''
        from ibtrader.core.strategy import NO_SIGNALS, Param, Strategy

        class UpDown(Strategy):
            """buy on an up bar, sell on a down bar, with a 2 % stop"""
            name = "updown_test"
            bar_size = "1 min"
            params = (Param("stop_pct", float, 2.0, low=0.1, high=50),)

            def on_bar(self, ctx):
                bar = ctx.bar
                if bar.close == bar.open:
                    return NO_SIGNALS
                side = "buy" if bar.close > bar.open else "sell"
                sign = 1 if side == "buy" else -1
                stop = bar.close * (1 - sign * self.p.stop_pct / 100)
                return [self.signal(ctx, side, f"{side} bar", values={"close": bar.close},
                                    stop=stop)]
    ''',
    "fragile.py": '''
        from ibtrader.core.strategy import NO_SIGNALS, Strategy

        class Fragile(Strategy):
            """raises on MSFT once its price passes 150; buys AAPL up bars"""
            name = "fragile_test"
            bar_size = "1 min"

            def on_bar(self, ctx):
                if ctx.symbol == "MSFT" and ctx.bar.close > 150:
                    raise ZeroDivisionError("bad arithmetic in a user strategy")
                if ctx.bar.close > ctx.bar.open:
                    return [self.signal(ctx, "buy", "up bar")]
                return NO_SIGNALS
    ''',
    "early.py": '''
        from ibtrader.core.strategy import NO_SIGNALS, Strategy

        class Early(Strategy):
            """buys as soon as the forming bar is 1 % above its open"""
            name = "early_test"
            bar_size = "1 min"
            sees_forming = True

            def on_bar(self, ctx):
                if ctx.forming and ctx.bar.close > ctx.bar.open * 1.01:
                    return [self.signal(ctx, "buy", "up 1 % intrabar")]
                return NO_SIGNALS
    ''',
    "renew.py": '''
        from ibtrader.core.strategy import Strategy

        class Renew(Strategy):
            """on every bar: close what is held, then buy afresh (as sma_cross does when a
            cross comes in the direction of the position)"""
            name = "renew_test"
            bar_size = "1 min"

            def on_bar(self, ctx):
                stop = ctx.bar.close * 0.98
                return [self.signal(ctx, "exit", "renew"),
                        self.signal(ctx, "buy", "renew", stop=stop)]
    ''',
    "broken.py": "def oops(:\n",
}


class Bars:
    """A bar source as the Market Data Service presents it (core.ports.BarSource)."""

    def __init__(self, history: dict[tuple[str, str], list[Bar]] | None = None) -> None:
        self.bar_closed: Event[[str, str, Bar]] = Event("bar_closed")
        self.bar_forming: Event[[str, str, Bar]] = Event("bar_forming")
        self.history_ready: Event[[str]] = Event("history_ready")
        self._history = history or {}
        self.history_calls: list[tuple[str, str]] = []

    def history(self, symbol: str, bar_size: str) -> list[Bar]:
        self.history_calls.append((symbol, bar_size))
        return self._history.get((symbol, bar_size), [])


class Account:
    def __init__(self) -> None:
        self.snapshot = AccountSnapshot(100_000.0, 400_000.0, {})

    def account(self) -> AccountSnapshot:
        return self.snapshot


class RecordingPort:
    """The order-submission port's test double: records what it was handed."""

    def __init__(self, fail: str = "") -> None:
        self.submitted: list[Decision] = []
        self.fail = fail

    async def submit(self, decision: Decision) -> None:
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError(self.fail)
        self.submitted.append(decision)


class Clock:
    def __init__(self) -> None:
        self.now = T0 + 10_000

    def __call__(self) -> float:
        return self.now


def bar(i: int, open_: float, close: float) -> Bar:
    return Bar(T0 + 60 * i, open_, max(open_, close) + 0.1, min(open_, close) - 0.1, close,
               1_000.0)


class Rig:
    def __init__(self, tmp_path: Path, strategies: tuple[str, ...] = ("updown_test",),
                 port: RecordingPort | None = None, auto: tuple[str, ...] = (),
                 history: dict[tuple[str, str], list[Bar]] | None = None,
                 symbols: tuple[str, ...] = ("AAPL", "MSFT")) -> None:
        folder = tmp_path / "strategies"
        folder.mkdir(exist_ok=True)
        for name, text in USER_STRATEGIES.items():
            (folder / name).write_text(textwrap.dedent(text))
        self.settings = Settings(data_dir=tmp_path, watchlist=symbols, strategies=strategies,
                                 auto_trade=auto, decision_expiry_seconds=60,
                                 max_position_value=0)
        self.journal = SqliteJournal(self.settings.journal_file)
        self.bars = Bars(history)
        self.account = Account()
        self.port = port
        self.clock = Clock()
        self.engine = TradingEngine(self.bars, self.journal, self.account, port, self.settings,
                                    clock=self.clock)
        self.signals: list[SignalRecord] = []
        self.made: list[Decision] = []
        self.changed: list[Decision] = []
        self.failures: list[tuple[str, str, str]] = []
        self.load_errors: list[str] = []
        self.engine.signal_emitted += self.signals.append
        self.engine.decision_made += self.made.append
        self.engine.decision_changed += self.changed.append
        self.engine.strategy_failed += lambda *a: self.failures.append(a)
        self.engine.load_failed += self.load_errors.append

    def close(self, symbol: str, b: Bar, bar_size: str = "1 min") -> None:
        self.bars.bar_closed.emit(symbol, bar_size, b)


def drive(tmp_path: Path, body: Callable[[Rig], Coroutine[Any, Any, None]], **kw: Any) -> Rig:
    rig = Rig(tmp_path, **kw)

    async def main() -> None:
        await rig.engine.start()
        try:
            await body(rig)
        finally:
            await rig.engine.stop()

    asyncio.run(asyncio.wait_for(main(), 10))
    rig.journal.close()
    return rig


def test_signal_to_pending_decision_then_accept_submits(tmp_path):
    port = RecordingPort()

    async def body(rig: Rig) -> None:
        rig.close("AAPL", bar(0, 100.0, 101.0))
        (record,) = rig.signals
        (decision,) = rig.made
        assert record.signal.side == "buy" and record.strategy == "updown_test"
        assert decision.state is S.PENDING and decision.signal_id == record.id
        # 0.5 % of 100k over a 2.02 stop distance -> 247 shares, target at 2 R
        assert (decision.quantity, decision.stop) == (247, pytest.approx(98.98))
        assert decision.target == pytest.approx(101.0 + 2 * 2.02)
        assert decision.expires == rig.clock.now + 60
        assert rig.journal.decision(decision.id) == decision
        assert rig.journal.signals()[0].id == record.id
        assert rig.engine.pending() == [decision]

        done = await rig.engine.accept(decision.id)
        assert done.state is S.SUBMITTED
        assert [d.id for d in port.submitted] == [decision.id]
        assert port.submitted[0].state is S.ACCEPTED
        assert [d.state for d in rig.changed] == [S.ACCEPTED, S.SUBMITTED]
        assert [s for _, s, _ in rig.journal.decision_trail(decision.id)] == [
            S.PENDING, S.ACCEPTED, S.SUBMITTED]
        assert rig.engine.pending() == []
        with pytest.raises(DecisionError, match="is submitted, not pending"):
            await rig.engine.accept(decision.id)
        with pytest.raises(DecisionError, match="no decision 'nope'"):
            rig.engine.dismiss("nope")

    drive(tmp_path, body, port=port)


def test_dismiss(tmp_path):
    port = RecordingPort()

    async def body(rig: Rig) -> None:
        rig.close("MSFT", bar(0, 100.0, 99.0))
        (decision,) = rig.made
        assert decision.side == "sell" and decision.state is S.PENDING
        dismissed = rig.engine.dismiss(decision.id, "not today")
        assert dismissed.state is S.DISMISSED and dismissed.reason == "not today"
        assert rig.journal.decision(decision.id).state is S.DISMISSED
        with pytest.raises(DecisionError, match="is dismissed, not pending"):
            await rig.engine.accept(decision.id)
        assert port.submitted == []

    drive(tmp_path, body, port=port)


def test_pending_decisions_expire(tmp_path):
    async def body(rig: Rig) -> None:
        rig.close("AAPL", bar(0, 100.0, 101.0))
        rig.close("MSFT", bar(0, 100.0, 101.0))
        first, second = rig.made
        rig.clock.now += 59
        assert rig.engine.expire_due() == []
        rig.clock.now += 1
        # the engine's own timer expires them, without anyone calling expire_due
        for _ in range(100):
            if not rig.engine.pending():
                break
            await asyncio.sleep(0.01)
        assert rig.engine.pending() == []
        assert {rig.journal.decision(d.id).state for d in (first, second)} == {S.EXPIRED}
        assert rig.journal.decision(first.id).reason == "not answered in time"
        with pytest.raises(DecisionError, match="expired, not pending"):
            await rig.engine.accept(first.id)

    drive(tmp_path, body, port=RecordingPort())


def test_accepting_too_late_expires_instead(tmp_path):
    port = RecordingPort()

    async def body(rig: Rig) -> None:
        rig.close("AAPL", bar(0, 100.0, 101.0))
        (decision,) = rig.made
        rig.clock.now += 61
        with pytest.raises(DecisionError, match="expired before it was accepted"):
            await rig.engine.accept(decision.id)
        assert port.submitted == [] and rig.journal.decision(decision.id).state is S.EXPIRED

    drive(tmp_path, body, port=port)


def test_a_newer_signal_replaces_the_unanswered_decision(tmp_path):
    async def body(rig: Rig) -> None:
        rig.close("AAPL", bar(0, 100.0, 101.0))
        rig.close("AAPL", bar(1, 101.0, 100.0))
        first, second = rig.made
        assert rig.journal.decision(first.id).state is S.EXPIRED
        assert rig.journal.decision(first.id).reason == "replaced by a newer signal"
        assert rig.engine.pending() == [second]

    drive(tmp_path, body, port=RecordingPort())


def test_auto_trade_submits_without_asking(tmp_path):
    port = RecordingPort()

    async def body(rig: Rig) -> None:
        rig.close("AAPL", bar(0, 100.0, 101.0))
        (decision,) = rig.made
        assert decision.state is S.ACCEPTED and decision.reason == "auto-trade"
        for _ in range(20):
            await asyncio.sleep(0)
        assert [d.id for d in port.submitted] == [decision.id]
        assert rig.journal.decision(decision.id).state is S.SUBMITTED
        rig.engine.set_auto_trade("updown_test", False)
        rig.close("AAPL", bar(1, 101.0, 102.0))
        assert rig.made[-1].state is S.PENDING

    drive(tmp_path, body, port=port, auto=("updown_test",))


def test_auto_trade_without_a_port_is_refused_with_the_reason(tmp_path):
    async def body(rig: Rig) -> None:
        assert any("auto-trade is refused" in e for e in rig.load_errors)
        rig.close("AAPL", bar(0, 100.0, 101.0))
        (decision,) = rig.made
        assert decision.state is S.PENDING  # the trader may still dismiss it
        with pytest.raises(DecisionError, match="no order-submission port"):
            await rig.engine.accept(decision.id)
        with pytest.raises(ValueError, match="auto-trade for updown_test is refused"):
            rig.engine.set_auto_trade("updown_test", True)

    drive(tmp_path, body, auto=("updown_test",))


def test_a_port_refusal_is_recorded(tmp_path):
    port = RecordingPort(fail="risk limit: max orders per minute")

    async def body(rig: Rig) -> None:
        rig.close("AAPL", bar(0, 100.0, 101.0))
        done = await rig.engine.accept(rig.made[0].id)
        assert done.state is S.REFUSED and done.refusal_code == SUBMISSION_FAILED
        assert "max orders per minute" in rig.journal.decision(done.id).reason

    drive(tmp_path, body, port=port)


def test_disabled_strategy_signals_are_refused(tmp_path):
    async def body(rig: Rig) -> None:
        rig.engine.set_enabled("updown_test", False)
        rig.close("AAPL", bar(0, 100.0, 101.0))
        (decision,) = rig.made
        assert decision.state is S.REFUSED and decision.refusal_code == STRATEGY_DISABLED
        assert len(rig.journal.signals()) == 1  # the signal itself is still on record
        rig.engine.set_enabled("updown_test", True)
        rig.close("AAPL", bar(1, 100.0, 101.0))
        assert rig.made[-1].state is S.PENDING
        with pytest.raises(ValueError, match="'nope' is not running; running: updown_test"):
            rig.engine.set_enabled("nope", False)

    drive(tmp_path, body, port=RecordingPort())


def test_position_from_the_account_shapes_decisions(tmp_path):
    async def body(rig: Rig) -> None:
        rig.account.snapshot = AccountSnapshot(100_000.0, 400_000.0, {"AAPL": 30.0})
        rig.close("AAPL", bar(0, 100.0, 101.0))
        assert rig.made[-1].refusal_code == ALREADY_POSITIONED
        rig.close("AAPL", bar(1, 101.0, 100.0))
        reverse = rig.made[-1]
        assert (reverse.action, reverse.side, reverse.closes) == ("reverse", "sell", 30)

    drive(tmp_path, body, port=RecordingPort())


def test_exit_then_entry_on_one_bar_is_a_close_then_an_open(tmp_path):
    async def body(rig: Rig) -> None:
        rig.account.snapshot = AccountSnapshot(100_000.0, 400_000.0, {"AAPL": 30.0})
        rig.close("AAPL", bar(0, 100.0, 101.0))
        close, entry = rig.made
        assert (close.action, close.side, close.quantity) == ("close", "sell", 30)
        assert (entry.action, entry.side, entry.state) == ("open", "buy", S.PENDING)
        # the entry on the same bar does not replace the close it follows
        assert {d.id for d in rig.engine.pending()} == {close.id, entry.id}
        assert rig.changed == []

    drive(tmp_path, body, port=RecordingPort(), strategies=("renew_test",))


def test_a_broken_strategy_is_isolated(tmp_path):
    async def body(rig: Rig) -> None:
        assert any("broken.py" in e and "SyntaxError" in e for e in rig.load_errors)
        for i, price in enumerate([140.0, 160.0, 170.0]):
            rig.close("MSFT", bar(i, price - 1, price))
            rig.close("AAPL", bar(i, price - 1, price))
        assert rig.failures == [("fragile_test", "MSFT",
                                 "ZeroDivisionError: bad arithmetic in a user strategy")]
        by = [(s.strategy, s.signal.symbol) for s in rig.signals]
        assert by.count(("fragile_test", "AAPL")) == 3  # the same strategy elsewhere goes on
        assert by.count(("fragile_test", "MSFT")) == 1  # before it broke
        assert by.count(("updown_test", "MSFT")) == 3  # other strategies go on
        (status,) = [s for s in rig.engine.status() if s.name == "fragile_test"]
        assert status.failed == {"MSFT": "ZeroDivisionError: bad arithmetic in a user strategy"}

    drive(tmp_path, body, strategies=("updown_test", "fragile_test", "no_such_strategy"),
        port=RecordingPort())


def test_bad_strategy_specs_are_reported_and_the_rest_runs(tmp_path):
    async def body(rig: Rig) -> None:
        errors = "\n".join(rig.load_errors)
        assert "unknown strategy 'no_such_strategy'" in errors
        assert "stop_pct must be a number in [0.1, 50], got '99'" in errors
        assert "'fragile_test:x': 'x' is not param=value" in errors
        assert "fast must be below slow, got fast=40, slow=20" in errors
        assert "strategy fragile_test is listed twice" in errors
        assert [s.name for s in rig.engine.status()] == ["fragile_test"]

    drive(tmp_path, body, strategies=("fragile_test", "no_such_strategy", "fragile_test:x",
                                    "sma_cross:fast=40;slow=20", "updown_test:stop_pct=99",
                                    "fragile_test"))


def test_warm_start_from_history_then_live_signals_match_one_long_run(tmp_path):
    frame = random_ohlcv(800, seed=3)
    all_bars = [Bar(r.time, r.open, r.high, r.low, r.close, r.volume)
                for r in frame.itertuples(index=False)]
    history, live = all_bars[:600], all_bars[600:]
    # the whole series through one runner: the signals the live part must give
    control = StrategyRunner(load_strategy("sma_cross"), "AAPL")
    control.warm(history)
    want = [(s.time, s.side) for b in live for s in control.on_bar(b)]
    assert want

    async def body(rig: Rig) -> None:
        assert rig.bars.history_calls == []  # warmed lazily, on the first closed bar
        for b in live:
            rig.close("AAPL", b, "1 day")
            rig.close("AAPL", b, "1 hour")  # another bar size: not this strategy's
        assert rig.bars.history_calls == [("AAPL", "1 day")]
        assert [(s.signal.time, s.signal.side) for s in rig.signals] == want
        rig.close("AAPL", live[-1], "1 day")  # a re-sent bar is skipped, not an error
        assert rig.failures == [] and len(rig.signals) == len(want)

    # the source's history overlaps the first live bar: the overlap is ignored
    drive(tmp_path, body, strategies=("sma_cross",), symbols=("AAPL",),
        history={("AAPL", "1 day"): history + live[:1]})


def test_strategies_warm_as_soon_as_the_source_says_a_symbols_history_is_in(tmp_path):
    frame = random_ohlcv(60, seed=4)
    history = [Bar(r.time, r.open, r.high, r.low, r.close, r.volume)
               for r in frame.itertuples(index=False)]
    closes = [b.close for b in history]

    async def body(rig: Rig) -> None:
        assert rig.engine.indicator_values("AAPL") == {"sma_cross": {"fast": None,
                                                                     "slow": None}}
        rig.bars.history_ready.emit("AAPL")
        values = rig.engine.indicator_values("AAPL")["sma_cross"]
        assert values["fast"] == pytest.approx(sum(closes[-10:]) / 10)
        assert values["slow"] == pytest.approx(sum(closes[-20:]) / 20)
        assert rig.bars.history_calls == [("AAPL", "1 day")]
        rig.close("AAPL", history[-1], "1 day")  # the first live bar: no second warm-up
        assert rig.bars.history_calls == [("AAPL", "1 day")]

    drive(tmp_path, body, strategies=("sma_cross",), symbols=("AAPL",),
          history={("AAPL", "1 day"): history})


def test_pending_decisions_of_an_earlier_run_expire_at_start(tmp_path):
    async def first(rig: Rig) -> None:
        rig.close("AAPL", bar(0, 100.0, 101.0))

    before = drive(tmp_path, first, port=RecordingPort())
    (left,) = before.made

    async def second(rig: Rig) -> None:
        decision = rig.journal.decision(left.id)
        assert decision.state is S.EXPIRED and decision.reason == "the engine restarted"

    drive(tmp_path, second, port=RecordingPort())


def test_strategy_specs_parse_with_clear_errors():
    spec = parse_strategy_spec(" sma_cross:fast=5; slow=30 ")
    assert spec.name == "sma_cross" and dict(spec.params) == {"fast": "5", "slow": "30"}
    with pytest.raises(ValueError, match="'fast' is not param=value"):
        parse_strategy_spec("sma_cross:fast")
    with pytest.raises(ValueError, match="fast is given twice"):
        parse_strategy_spec("sma_cross:fast=1;fast=2")
    with pytest.raises(ValueError, match="write it as name or name:param=value"):
        parse_strategy_spec("sma cross")
    spec = parse_strategy_spec("sma_cross:fast=3;bar_size=1 min")
    assert (spec.bar_size, dict(spec.params)) == ("1 min", {"fast": "3"})
    with pytest.raises(ValueError, match="unsupported bar size '7 mins'"):
        parse_strategy_spec("sma_cross:bar_size=7 mins")


def test_a_spec_runs_a_strategy_on_another_bar_size(tmp_path):
    async def body(rig: Rig) -> None:
        (status,) = rig.engine.status()
        assert status.bar_size == "5 mins"
        rig.close("AAPL", bar(0, 100.0, 101.0))  # a 1-minute bar: not this strategy's
        assert rig.signals == []
        rig.close("AAPL", bar(0, 100.0, 101.0), bar_size="5 mins")
        assert [r.signal.side for r in rig.signals] == ["buy"]

    drive(tmp_path, body, port=RecordingPort(), strategies=("updown_test:bar_size=5 mins",))


def test_auto_trade_refused_decision_is_journalled(tmp_path):
    """With auto-trade on and no port, decide() records the refusal (a second guard)."""
    async def body(rig: Rig) -> None:
        rig.engine._auto["updown_test"] = True  # as if a port had gone away
        rig.close("AAPL", bar(0, 100.0, 101.0))
        (decision,) = rig.made
        assert decision.state is S.REFUSED and decision.refusal_code == AUTO_TRADE_UNAVAILABLE
        assert rig.journal.decision(decision.id).state is S.REFUSED

    drive(tmp_path, body)


def test_forming_bars_reach_strategies_that_ask_once_per_bar_and_side(tmp_path):
    async def body(rig: Rig) -> None:
        assert len(rig.bars.bar_forming) == 1
        rig.bars.bar_forming.emit("AAPL", "1 min", bar(0, 100.0, 100.2))
        assert rig.bars.history_calls == [("AAPL", "1 min")]  # warmed on the first forming bar
        rig.close("AAPL", bar(0, 100.0, 100.0))
        for close in (100.5, 101.5, 102.0, 101.8):  # ticks of the forming bar 1
            rig.bars.bar_forming.emit("AAPL", "1 min", bar(1, 100.0, close))
        assert [(s.signal.time, s.signal.side) for s in rig.signals] == [(T0 + 60, "buy")]
        rig.close("AAPL", bar(1, 100.0, 101.8))
        rig.bars.bar_forming.emit("AAPL", "1 min", bar(2, 100.0, 103.0))
        assert [s.signal.time for s in rig.signals] == [T0 + 60, T0 + 120]
        assert rig.made[0].entry_price == 101.5  # sized at the tick that made the signal

    drive(tmp_path, body, strategies=("early_test",), port=RecordingPort())


def test_no_forming_subscription_when_no_strategy_asks(tmp_path):
    async def body(rig: Rig) -> None:
        assert len(rig.bars.bar_forming) == 0 and len(rig.bars.bar_closed) == 1

    rig = drive(tmp_path, body)
    assert len(rig.bars.bar_closed) == 0  # stop() unsubscribed


def test_against_the_simulated_gateway_signals_and_decisions_land_in_the_journal(
        run, gateway, tmp_path):  # noqa: F811  (fixtures imported above)
    """The whole live path: simulated gateway -> IB adapter -> Market Data Service (history
    backfilled, 1-minute bars closing every 2 s at the gateway's speed) -> engine ->
    journal. Only the account (fixed values) and the order port are test doubles."""
    port = RecordingPort()
    rig = Rig(tmp_path, strategies=("updown_test", "sma_cross:fast=3;slow=8"), port=port,
              symbols=("AAPL", "MSFT"))

    async def main() -> None:
        broker = new_broker(gateway)
        await broker.start()
        clock = sim_clock(gateway)
        cache = HistoryCache(ParquetBarStore(FolderObjectStore(tmp_path / "objects")),
                             {"1 min": "3600 S", "1 day": "30 D"}, clock=clock)
        service = MarketDataService(broker.market_data, cache, bar_sizes=("1 min", "1 day"),
                                    clock=clock)
        engine = TradingEngine(service, rig.journal, rig.account, port, rig.settings,
                               clock=clock)
        engine.signal_emitted += rig.signals.append
        engine.decision_made += rig.made.append
        engine.strategy_failed += lambda *a: rig.failures.append(a)
        try:
            await engine.start()
            await service.subscribe(["AAPL", "MSFT"])
            assert service.progress.finished and service.progress.bars_received > 100
            await until(lambda: len({s.signal.symbol for s in rig.signals}) == 2, timeout=10)
            assert rig.failures == []
            pending = [d for d in rig.made if d.state is S.PENDING]
            assert pending and all(d.quantity > 0 and d.stop for d in pending)
            done = await engine.accept(pending[-1].id)
            assert done.state is S.SUBMITTED and port.submitted[-1].id == done.id
        finally:
            await engine.stop()
            await service.stop()
            await broker.stop()

    run(main(), timeout=30)
    with SqliteJournal(rig.settings.journal_file) as journal:
        assert {r.id for r in journal.signals(limit=1000)} == {s.id for s in rig.signals}
        assert {d.signal_id for d in journal.decisions(limit=1000)} <= {s.id for s in rig.signals}
        assert journal.decision(port.submitted[-1].id).state is S.SUBMITTED
    rig.journal.close()


def test_factory_journals_under_the_data_dir_and_unknown_auto_trade_names_are_reported(
        tmp_path):
    settings = Settings(data_dir=tmp_path, watchlist=("AAPL",), strategies=("sma_cross",),
                        auto_trade=("sma_crosss",))
    engine = trading_engine(settings, Bars(), Account(), RecordingPort())
    errors: list[str] = []
    engine.load_failed += errors.append

    async def main() -> None:
        await engine.start()
        await engine.stop()

    asyncio.run(main())
    engine.journal.close()
    assert settings.journal_file == tmp_path / "journal.sqlite" and settings.journal_file.exists()
    assert any("auto_trade names 'sma_crosss', which is not running" in e for e in errors)
    assert [(s.name, s.auto_trade) for s in engine.status()] == [("sma_cross", False)]


class FullDisk(SqliteJournal):
    """A real journal whose decision writes fail, as on a full disk."""

    def record_decision(self, decision: Decision) -> None:
        raise sqlite3.OperationalError("database or disk is full")


def test_nothing_is_published_or_submitted_unless_journalled(tmp_path):
    port = RecordingPort()

    async def body(rig: Rig) -> None:
        rig.close("AAPL", bar(0, 100.0, 101.0))
        assert rig.signals == [] and rig.made == [] and port.submitted == []
        assert rig.journal.signals() == []  # the signal's write was rolled back too

    rig = Rig(tmp_path, port=port, auto=("updown_test",))
    rig.journal.close()
    rig.journal = FullDisk(rig.settings.journal_file)
    rig.engine._journal = rig.journal

    async def main() -> None:
        await rig.engine.start()
        try:
            await body(rig)
            await asyncio.sleep(0.01)
            assert port.submitted == []
        finally:
            await rig.engine.stop()

    asyncio.run(main())
    rig.journal.close()
