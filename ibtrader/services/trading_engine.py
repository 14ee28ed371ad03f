"""TradingEngine: bars in, signals and decisions out - the live half of the strategies.

    engine = TradingEngine(market_data, journal, account, order_port, settings)
    engine.decision_made += panel.show
    await engine.start()                       # user strategies loaded, bars subscribed
    await engine.accept(decision_id)           # pending -> accepted -> submitted
    engine.dismiss(decision_id)

Per (strategy, symbol) one StrategyRunner is fed the closed bars (and forming ones, for
strategies that ask) of the strategy's bar size from a BarSource (core/ports.py). It is
warmed from `history()` on the first bar it sees, so the engine may start before
the backfill ends. Every signal and every decision is journalled first, then published.
Decisions wait for the trader unless the strategy auto-trades; a pending one expires
after `decision_expiry_seconds`, or when a newer signal of the same strategy and symbol
replaces it. A strategy that raises is disabled for that symbol only, its error logged
and published; the others go on.

Everything runs on the engine's asyncio loop: the bar handlers are synchronous and short
(O(1) per runner, one journal write per signal/decision), and the only awaits are the
order-submission port's and the loading of user strategy files (in an executor).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ibtrader.config import Settings
from ibtrader.core.advice import AdviceError, Advisor, AnswerError, AskingStrategy
from ibtrader.core.bars import bar_seconds
from ibtrader.core.decisions import (
    SUBMISSION_FAILED,
    Decision,
    DecisionContext,
    DecisionError,
    DecisionState,
    SignalRecord,
    decide,
    new_id,
)
from ibtrader.core.events import Event
from ibtrader.core.market import Bar, Instrument
from ibtrader.core.ports import (
    AccountPort,
    AccountSnapshot,
    BarSource,
    OrderSubmissionPort,
    SignalJournal,
)
from ibtrader.core.sizing import SizingRules
from ibtrader.core.strategies import load_strategy, load_user_strategies
from ibtrader.core.strategy import Signal
from ibtrader.core.strategy_runner import StaleBar, StrategyRunner

log = logging.getLogger(__name__)

S = DecisionState
NO_PORT = ("no order-submission port is configured (the order manager is not running): "
           "decisions can only be dismissed")


# --- which strategies run, with which parameters -----------------------------------------

@dataclass(frozen=True)
class StrategySpec:
    name: str
    params: Mapping[str, str] = field(default_factory=dict)
    bar_size: str = ""  # "" : the strategy's own


def parse_strategy_spec(text: str) -> StrategySpec:
    """'sma_cross' or 'sma_cross:fast=5;slow=30;bar_size=1 min' -> StrategySpec; a
    ValueError says what is wrong. `bar_size` runs the strategy on bars other than its
    own; the other values stay text: the strategy's Params parse and check them."""
    name, _, rest = text.strip().partition(":")
    if not name.isidentifier():
        raise ValueError(f"strategy {text!r}: write it as name or name:param=value;param=value")
    params: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(";"))):
        key, eq, value = (x.strip() for x in item.partition("="))
        if not eq or not key.isidentifier() or not value:
            raise ValueError(f"strategy {text!r}: {item!r} is not param=value")
        if key in params:
            raise ValueError(f"strategy {text!r}: {key} is given twice")
        params[key] = value
    bar_size = params.pop("bar_size", "")
    if bar_size:
        bar_seconds(bar_size)
    return StrategySpec(name, params, bar_size)


@dataclass
class _Slot:
    """One strategy on one symbol."""

    name: str
    symbol: str
    bar_size: str
    runner: StrategyRunner
    warmed: bool = False
    error: str = ""  # set when the strategy raised: the slot is off for good
    # (bar time, side) of forming-bar signals already taken: a condition that holds for
    # many ticks of one bar makes one signal, not one per tick
    forming_seen: set[tuple[float, str]] = field(default_factory=set)
    # asking strategies (core/advice.py): the question in flight, the newest bar waiting
    # for it to end (a newer bar replaces an older one), the last answer refused
    advisor: Advisor | None = None
    asking: asyncio.Task[None] | None = None
    waiting: tuple[Bar, dict[str, Any], dict[str, Any]] | None = None
    refused: str = ""


@dataclass(frozen=True)
class StrategyStatus:
    name: str
    bar_size: str
    enabled: bool
    auto_trade: bool
    symbols: tuple[str, ...]
    failed: Mapping[str, str]  # symbol -> the error that disabled it there
    refused: Mapping[str, str] = field(default_factory=dict)  # symbol -> last answer refused


class TradingEngine:
    def __init__(self, bars: BarSource, journal: SignalJournal, account: AccountPort,
                 orders: OrderSubmissionPort | None, settings: Settings, *,
                 symbols: Sequence[str] | None = None,
                 strategies: Sequence[str] | None = None,
                 instruments: Mapping[str, Instrument] | None = None,
                 advisors: Mapping[str, Advisor] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._bars = bars
        self._journal = journal
        self._account = account
        self._orders = orders
        self._settings = settings
        self._clock = clock
        self._symbols = tuple(settings.watchlist if symbols is None else symbols)
        self._specs = tuple(settings.strategies if strategies is None else strategies)
        self._auto_names = set(settings.auto_trade)
        self._instruments = dict(instruments or {})
        self._advisors = dict(advisors or {})  # strategy name -> who answers it
        self._ttl = settings.decision_expiry_seconds
        self._rules = SizingRules(
            risk_per_trade_pct=settings.risk_per_trade_pct, reward_r=settings.reward_r,
            default_stop_pct=settings.default_stop_pct,
            stop_atr_multiple=settings.stop_atr_multiple,
            max_position_value=settings.max_position_value)
        self._rules_by_symbol: dict[str, SizingRules] = {}

        self.signal_emitted: Event[[SignalRecord]] = Event("signal_emitted")
        self.decision_made: Event[[Decision]] = Event("decision_made")  # a new decision
        self.decision_changed: Event[[Decision]] = Event("decision_changed")  # a new state
        self.strategy_failed: Event[[str, str, str]] = Event("strategy_failed")  # name, sym, err
        self.load_failed: Event[[str]] = Event("load_failed")  # a strategy that cannot run
        # an asking strategy's answer refused (timeout, error, malformed): name, sym, reason
        self.advice_refused: Event[[str, str, str]] = Event("advice_refused")

        self._slots: dict[tuple[str, str], list[_Slot]] = {}  # (symbol, bar_size) -> slots
        self._strategies: dict[str, str] = {}  # name -> bar size
        self._enabled: dict[str, bool] = {}
        self._auto: dict[str, bool] = {}
        self._pending: dict[str, Decision] = {}  # id -> decision waiting for the trader
        self._tasks: set[asyncio.Task[Any]] = set()
        self._expiry: asyncio.Task[None] | None = None
        self._forming = False
        self._started = False

    @property
    def journal(self) -> SignalJournal:
        return self._journal

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            raise RuntimeError("the trading engine is already started")
        self._started = True
        loop = asyncio.get_running_loop()
        folder = self._settings.strategies_dir
        _, errors = await loop.run_in_executor(None, load_user_strategies, folder)
        for error in errors:
            self._report_load(f"user strategy {error}")
        self._expire_leftovers()
        for text in self._specs:
            self._add_strategy(text)
        for name in sorted(self._auto_names - set(self._strategies)):
            self._report_load(f"auto_trade names {name!r}, which is not running")
        self._bars.bar_closed += self._on_bar_closed
        if (ready := getattr(self._bars, "history_ready", None)) is not None:
            ready += self._on_history_ready
        if self._forming:
            self._bars.bar_forming += self._on_bar_forming
        self._expiry = asyncio.create_task(self._expire_loop(), name="decision-expiry")
        log.info("trading engine started: %d strategies on %d symbols",
                 len(self._strategies), len(self._symbols))

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._bars.bar_closed -= self._on_bar_closed
        if (ready := getattr(self._bars, "history_ready", None)) is not None:
            ready -= self._on_history_ready
        if self._forming:
            self._bars.bar_forming -= self._on_bar_forming
        tasks = [t for t in (self._expiry, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    def _report_load(self, message: str) -> None:
        log.error("%s", message)
        self.load_failed.emit(message)

    def _add_strategy(self, text: str) -> None:
        """Build one strategy per symbol; a bad spec is reported, the others still run."""
        try:
            spec = parse_strategy_spec(text)
            if spec.name in self._strategies:
                raise ValueError(f"strategy {spec.name} is listed twice")
            built = {symbol: load_strategy(spec.name, **spec.params) for symbol in self._symbols}
            runners = {symbol: StrategyRunner(s, symbol) for symbol, s in built.items()}
            first = next(iter(built.values()), None)
            advisor = self._advisors.get(spec.name)
            if isinstance(first, AskingStrategy) and advisor is None:
                raise ValueError(first.advisor_hint)
        except Exception as exc:  # a user strategy may raise anything while it builds
            self._report_load(f"strategy {text!r} cannot run: {exc}")
            return
        bar_size = spec.bar_size or (first.bar_size if first else "")
        self._strategies[spec.name] = bar_size
        self._enabled[spec.name] = True
        self._auto[spec.name] = spec.name in self._auto_names and self._orders is not None
        if spec.name in self._auto_names and self._orders is None:
            self._report_load(f"strategy {spec.name}: auto-trade is refused: {NO_PORT}")
        for symbol, runner in runners.items():
            slot = _Slot(spec.name, symbol, bar_size, runner,
                         advisor=advisor if isinstance(first, AskingStrategy) else None)
            self._slots.setdefault((symbol, bar_size), []).append(slot)
            self._forming = self._forming or runner.strategy.sees_forming

    def _expire_leftovers(self) -> None:
        """Pending decisions of an earlier run: nobody can answer them any more."""
        for decision in self._journal.decisions(S.PENDING, limit=10_000):
            self._journal.update_decision(
                decision.moved(S.EXPIRED, self._clock(), "the engine restarted"))

    # --- bars --------------------------------------------------------------------------------

    def _on_bar_closed(self, symbol: str, bar_size: str, bar: Bar) -> None:
        slots = self._slots.get((symbol, bar_size))
        if not slots:
            return
        account = self._account.account()
        position = account.positions.get(symbol, 0.0)
        for slot in slots:
            if slot.error:
                continue
            runner = slot.runner
            if not slot.warmed:
                self._warm(slot, bar.time)
            runner.position = position
            if slot.advisor is not None:
                self._ask(slot, bar, position)
                continue
            try:
                signals = runner.on_bar(bar)
            except StaleBar as exc:
                log.debug("%s: %s", slot.name, exc)
                continue
            except Exception as exc:
                self._fail(slot, exc)
                continue
            self._on_signals(slot, signals, bar, account)

    # --- asking strategies: the answer comes later, off the loop -----------------------------

    def _ask(self, slot: _Slot, bar: Bar, position: float) -> None:
        """The indicators take the bar now; the question goes out unless one is in flight,
        in which case this bar waits for it (replacing an older waiting bar)."""
        runner = slot.runner
        if runner.warm((bar,)) == 0:
            log.debug("%s on %s: bar at %s is not after the last one", slot.name, slot.symbol,
                      bar.time)
            return
        if not self._enabled[slot.name]:
            return  # no question for a switched-off strategy: its answer would be refused
        strategy = runner.strategy
        assert isinstance(strategy, AskingStrategy)
        values = dict(runner.values)
        question = strategy.question(slot.symbol, slot.bar_size, bar, values, position)
        if slot.asking is not None:
            if slot.waiting is not None:
                log.info("%s on %s: bar at %s skipped, a newer bar closed while n8n thinks",
                         slot.name, slot.symbol, slot.waiting[0].time)
            slot.waiting = (bar, question, values)
            return
        self._start_asking(slot, bar, question, values)

    def _start_asking(self, slot: _Slot, bar: Bar, question: dict[str, Any],
                      values: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(
            self._asking(slot, bar, question, values), name=f"ask-{slot.name}-{slot.symbol}")
        slot.asking = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _asking(self, slot: _Slot, bar: Bar, question: dict[str, Any],
                      values: dict[str, Any]) -> None:
        try:
            await self._ask_and_act(slot, bar, question, values)
        finally:
            slot.asking = None
            waiting, slot.waiting = slot.waiting, None
            if waiting is not None and self._started:
                self._start_asking(slot, *waiting)

    async def _ask_and_act(self, slot: _Slot, bar: Bar, question: dict[str, Any],
                           values: dict[str, Any]) -> None:
        advisor = slot.advisor
        assert advisor is not None
        try:
            async with asyncio.timeout(advisor.timeout):
                reply = await advisor.ask(question)
        except TimeoutError:
            self._refuse(slot, bar, f"no answer within {advisor.timeout:g} s")
            return
        except AdviceError as exc:
            self._refuse(slot, bar, str(exc))
            return
        except Exception as exc:  # an adapter bug must not end the engine's bar handling
            log.exception("asking for %s on %s failed", slot.name, slot.symbol)
            self._refuse(slot, bar, f"asking failed: {type(exc).__name__}: {exc}")
            return
        if slot.runner.last_time != bar.time:
            self._refuse(slot, bar, f"stale: the answer came after the bar at "
                                    f"{slot.runner.last_time:g} closed")
            return
        strategy = slot.runner.strategy
        assert isinstance(strategy, AskingStrategy)
        try:
            signal = strategy.answer(slot.symbol, bar, values, reply)
        except AnswerError as exc:
            self._refuse(slot, bar, f"malformed answer ({exc.code}): {exc}")
            return
        slot.refused = ""
        if signal is None:
            log.info("%s on %s: no trade on the bar at %s (%s)", slot.name, slot.symbol,
                     bar.time, _short(reply))
            return
        self._on_signals(slot, (signal,), bar, self._account.account())  # the account now

    def _refuse(self, slot: _Slot, bar: Bar, reason: str) -> None:
        slot.refused = reason
        log.warning("%s on %s: answer for the bar at %s refused: %s", slot.name, slot.symbol,
                    bar.time, reason)
        self.advice_refused.emit(slot.name, slot.symbol, reason)

    def _on_history_ready(self, symbol: str) -> None:
        for slot in _flatten(self._slots.values()):
            if slot.symbol == symbol and not slot.warmed and not slot.error:
                self._warm(slot, math.inf)

    def _on_bar_forming(self, symbol: str, bar_size: str, bar: Bar) -> None:
        slots = self._slots.get((symbol, bar_size))
        if not slots:
            return
        account: AccountSnapshot | None = None
        for slot in slots:
            runner = slot.runner
            if slot.error or not runner.strategy.sees_forming:
                continue
            if not slot.warmed:
                self._warm(slot, bar.time)
            if account is None:
                account = self._account.account()
            runner.position = account.positions.get(symbol, 0.0)
            try:
                signals = runner.on_forming(bar)
            except Exception as exc:
                self._fail(slot, exc)
                continue
            for signal in signals:
                key = (bar.time, signal.side)
                if key in slot.forming_seen:
                    continue
                if slot.forming_seen and next(iter(slot.forming_seen))[0] != bar.time:
                    slot.forming_seen.clear()  # a new bar: forget the last one's
                slot.forming_seen.add(key)
                self._on_signals(slot, (signal,), bar, account)

    def _warm(self, slot: _Slot, before: float) -> None:
        slot.warmed = True
        history = self._bars.history(slot.symbol, slot.bar_size)
        try:
            used = slot.runner.warm(b for b in history if b.time < before)
        except Exception as exc:
            self._fail(slot, exc)
            return
        log.info("%s on %s %s: warmed with %d bars", slot.name, slot.symbol, slot.bar_size,
                 used)

    def _fail(self, slot: _Slot, exc: BaseException) -> None:
        slot.error = f"{type(exc).__name__}: {exc}"
        log.error("strategy %s raised on %s and is disabled there", slot.name, slot.symbol,
                  exc_info=exc)
        self.strategy_failed.emit(slot.name, slot.symbol, slot.error)

    # --- signals -> decisions ----------------------------------------------------------------

    def _on_signals(self, slot: _Slot, signals: Sequence[Signal], bar: Bar,
                    account: AccountSnapshot) -> None:
        """The signals of one bar, in order. Each is decided against the position the
        ones before it leave (an exit then a new entry is a close, then an open), and
        none replaces a decision made on the same bar."""
        if not signals:
            return
        position = account.positions.get(slot.symbol, 0.0)
        same_bar: set[str] = set()
        for signal in signals:
            decision = self._on_signal(slot, signal, bar, account, position, same_bar)
            if decision is not None and decision.state is not S.REFUSED:
                same_bar.add(decision.id)
                position = _position_after(position, decision)

    def _on_signal(self, slot: _Slot, signal: Signal, bar: Bar, account: AccountSnapshot,
                   position: float, same_bar: set[str]) -> Decision | None:
        now = self._clock()
        record = SignalRecord(new_id(now), slot.name, slot.bar_size, signal, now)
        name = slot.name
        ctx = DecisionContext(
            price=bar.close, equity=account.equity, buying_power=account.buying_power,
            position=position, enabled=self._enabled[name],
            auto_trade=self._auto[name], can_submit=self._orders is not None, ttl=self._ttl)
        decision = decide(record, ctx, self._rules_for(signal.symbol), now)
        replaced = [d.moved(S.EXPIRED, now, "replaced by a newer signal")
                    for d in self._pending.values() if d.strategy == name
                    and d.symbol == signal.symbol and d.id not in same_bar]
        try:
            # write-ahead, in one commit: nothing is published or acted on unless the
            # signal, its decision and what it replaced are all in the journal
            with self._journal.atomic():
                self._journal.record_signal(record)
                for old in replaced:
                    self._journal.update_decision(old)
                self._journal.record_decision(decision)
        except Exception:
            log.exception("signal of %s on %s not journalled; ignored", name, signal.symbol)
            return None
        self.signal_emitted.emit(record)
        for old in replaced:
            del self._pending[old.id]
            self.decision_changed.emit(old)
        if decision.state is S.PENDING:
            self._pending[decision.id] = decision
        self.decision_made.emit(decision)
        if decision.state is S.ACCEPTED:
            self._spawn(self._submit(decision))
        return decision

    def _rules_for(self, symbol: str) -> SizingRules:
        instrument = self._instruments.get(symbol)
        if instrument is None:
            return self._rules
        rules = self._rules_by_symbol.get(symbol)
        if rules is None:
            rules = SizingRules(**{**_fields(self._rules), "multiplier": instrument.multiplier})
            self._rules_by_symbol[symbol] = rules
        return rules

    def _move(self, decision: Decision, state: DecisionState, now: float, reason: str,
              code: str = "") -> Decision:
        moved = decision.moved(state, now, reason, code)
        self._journal.update_decision(moved)
        if state is S.PENDING:
            self._pending[moved.id] = moved
        else:
            self._pending.pop(moved.id, None)
        self.decision_changed.emit(moved)
        return moved

    # --- the trader's answers ----------------------------------------------------------------

    def pending(self) -> list[Decision]:
        """Decisions waiting for the trader, oldest first."""
        return sorted(self._pending.values(), key=lambda d: d.created)

    def _pending_one(self, decision_id: str) -> Decision:
        decision = self._pending.get(decision_id)
        if decision is not None:
            return decision
        known = self._journal.decision(decision_id)
        if known is not None:
            raise DecisionError(f"decision {decision_id} is {known.state.value}, not pending")
        raise DecisionError(f"no decision {decision_id!r}")

    async def accept(self, decision_id: str) -> Decision:
        """The trader says yes: the decision goes to the order-submission port. Returns it
        submitted, or refused when the port refused it; DecisionError when it is not
        pending (any more) or no port is configured."""
        decision = self._pending_one(decision_id)
        now = self._clock()
        if decision.expires is not None and now >= decision.expires:
            self._move(decision, S.EXPIRED, now, "not answered in time")
            raise DecisionError(f"decision {decision_id} expired before it was accepted")
        if self._orders is None:
            raise DecisionError(f"decision {decision_id} cannot be accepted: {NO_PORT}")
        accepted = self._move(decision, S.ACCEPTED, now, "accepted by the trader")
        return await self._submit(accepted)

    def dismiss(self, decision_id: str, reason: str = "dismissed by the trader") -> Decision:
        decision = self._pending_one(decision_id)
        return self._move(decision, S.DISMISSED, self._clock(), reason)

    async def _submit(self, decision: Decision) -> Decision:
        assert self._orders is not None  # decide() never accepts without a port
        try:
            await self._orders.submit(decision)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("decision %s refused by the order side: %s", decision.id, exc)
            return self._move(decision, S.REFUSED, self._clock(),
                              f"order submission failed: {exc}", SUBMISSION_FAILED)
        return self._move(decision, S.SUBMITTED, self._clock(), "handed to the order manager")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- expiry ------------------------------------------------------------------------------

    def expire_due(self, now: float | None = None) -> list[Decision]:
        """Expire every pending decision whose time is up; returns them."""
        now = self._clock() if now is None else now
        due = [d for d in self._pending.values() if d.expires is not None and d.expires <= now]
        return [self._move(d, S.EXPIRED, now, "not answered in time") for d in due]

    async def _expire_loop(self) -> None:
        while True:
            now = self._clock()
            times = [d.expires for d in self._pending.values() if d.expires is not None]
            wait = min(times) - now if times else 1.0
            await asyncio.sleep(min(1.0, max(0.01, wait)))
            try:
                self.expire_due()
            except Exception:  # a journal hiccup must not end expiry for good
                log.exception("expiring decisions failed")

    # --- per-strategy switches ---------------------------------------------------------------

    def _known(self, name: str) -> None:
        if name not in self._strategies:
            known = ", ".join(sorted(self._strategies)) or "none"
            raise ValueError(f"strategy {name!r} is not running; running: {known}")

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._known(name)
        self._enabled[name] = enabled

    def set_auto_trade(self, name: str, auto: bool) -> None:
        self._known(name)
        if auto and self._orders is None:
            raise ValueError(f"auto-trade for {name} is refused: {NO_PORT}")
        self._auto[name] = auto

    def indicator_values(self, symbol: str) -> dict[str, dict[str, Any]]:
        """Per strategy running on `symbol`, its indicators after the last closed bar
        (None while one warms up): a copy, safe to keep."""
        return {slot.name: dict(slot.runner.values)
                for slot in _flatten(self._slots.values()) if slot.symbol == symbol}

    def status(self) -> list[StrategyStatus]:
        out = []
        for name, bar_size in self._strategies.items():
            slots = [s for s in _flatten(self._slots.values()) if s.name == name]
            out.append(StrategyStatus(
                name, bar_size, self._enabled[name], self._auto[name],
                tuple(s.symbol for s in slots), {s.symbol: s.error for s in slots if s.error},
                {s.symbol: s.refused for s in slots if s.refused}))
        return out


def _position_after(position: float, decision: Decision) -> float:
    """The signed position once `decision` is carried out."""
    if decision.action == "close":
        return 0.0
    sign = 1.0 if decision.side == "buy" else -1.0
    return position + sign * decision.quantity


def _short(reply: Any) -> str:
    """The reply's reason, for a log line."""
    reason = reply.get("reason") if isinstance(reply, dict) else None
    return str(reason)[:200] if reason else "hold"


def _flatten(groups: Iterable[list[_Slot]]) -> Iterable[_Slot]:
    for group in groups:
        yield from group


def _fields(rules: SizingRules) -> dict[str, Any]:
    return {name: getattr(rules, name) for name in SizingRules.__dataclass_fields__}
