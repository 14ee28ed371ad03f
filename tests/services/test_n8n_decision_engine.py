"""The n8n_decision strategy in the trading engine against a real HTTP server on 127.0.0.1
(http.server in a thread) standing in for the workflow: a good answer becomes a decision
sized and risk-checked like any other; an HTTP error, a body that is not JSON, a malformed
answer, a late one and a stale one are refused with the reason logged and published, never
a signal; one question in flight per strategy and symbol; the loop never waits."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ibtrader.adapters.n8n.advisor import NO_STORE
from ibtrader.app import trading_engine
from ibtrader.config import Settings
from ibtrader.core.decisions import Decision, DecisionState, SignalRecord
from ibtrader.core.ports import AccountSnapshot
from ibtrader.core.sizing import NO_BUYING_POWER
from tests.services.test_trading_engine import Account, Bars, bar

S = DecisionState
SECRET = "s3cret"
SPEC = "n8n_decision:fast=2;slow=3;rsi_period=2;atr_period=2;bar_size=1 min"
Reply = tuple[int, str, float]  # HTTP status, body, seconds to wait before answering


@dataclass
class Workflow:
    """What the webhook answers: `answer(question) -> (status, body, delay)`."""

    answer: Callable[[dict[str, Any]], Reply]
    url: str = ""
    questions: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def serve(workflow: Workflow) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            question = json.loads(body)
            with workflow.lock:
                workflow.questions.append(question)
                workflow.headers.append(dict(self.headers))
                workflow.bodies.append(body)
                workflow.in_flight += 1
                workflow.most_in_flight = max(workflow.most_in_flight, workflow.in_flight)
            try:
                status, text, delay = workflow.answer(question)
                time.sleep(delay)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the advisor gave up waiting: nobody reads the late answer
            finally:
                with workflow.lock:
                    workflow.in_flight -= 1

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/webhook/decide"


def ok(body: dict[str, Any], delay: float = 0.0) -> Reply:
    return 200, json.dumps(body), delay


def buy_at_close(question: dict[str, Any]) -> Reply:
    close = question["bar"]["close"]
    return ok({"action": "buy", "entry": close, "stop": close - 3.0, "target": close + 6.0,
               "confidence": 0.75, "reason": "the workflow likes it"})


class Rig:
    def __init__(self, tmp_path: Path, url: str, timeout: float = 2.0) -> None:
        self.settings = Settings(data_dir=tmp_path, watchlist=("AAPL",), strategies=(SPEC,),
                                 n8n_decision_url=url, n8n_decision_timeout=timeout,
                                 n8n_webhook_secret=SECRET, decision_expiry_seconds=60,
                                 max_position_value=0)
        self.bars = Bars()
        self.account = Account()
        self.engine = trading_engine(self.settings, self.bars, self.account)
        self.signals: list[SignalRecord] = []
        self.made: list[Decision] = []
        self.refused: list[tuple[str, str, str]] = []
        self.load_errors: list[str] = []
        self.engine.signal_emitted += self.signals.append
        self.engine.decision_made += self.made.append
        self.engine.advice_refused += lambda *a: self.refused.append(a)
        self.engine.load_failed += self.load_errors.append

    def close(self, i: int, open_: float = 100.0, close: float = 101.0) -> None:
        self.bars.bar_closed.emit("AAPL", "1 min", bar(i, open_, close))


@pytest.fixture
def workflow() -> Iterator[Workflow]:
    flow = Workflow(buy_at_close)
    server, flow.url = serve(flow)
    yield flow
    server.shutdown()
    server.server_close()


def drive(tmp_path: Path, flow: Workflow, body: Callable[[Rig], Coroutine[Any, Any, None]],
          timeout: float = 2.0) -> Rig:
    rig = Rig(tmp_path, flow.url, timeout)

    async def main() -> None:
        await rig.engine.start()
        try:
            await body(rig)
        finally:
            await rig.engine.stop()

    asyncio.run(asyncio.wait_for(main(), 15))
    rig.engine.journal.close()
    return rig


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_a_good_answer_becomes_a_decision_sized_like_any_other(tmp_path, workflow):
    async def body(rig: Rig) -> None:
        rig.close(0)
        await until(lambda: bool(rig.made))
        (record,) = rig.signals
        (decision,) = rig.made
        assert record.strategy == "n8n_decision" and record.signal.side == "buy"
        assert record.signal.reason == "the workflow likes it"
        assert record.signal.strength == 0.75
        # the answer's stop sizes it: 0.5 % of 100k over 3.00 -> 166 shares, its target kept
        assert decision.state is S.PENDING and decision.quantity == 166
        assert (decision.stop, decision.target) == (98.0, 107.0)
        assert rig.engine.journal.decision(decision.id) == decision
        assert rig.refused == []

    drive(tmp_path, workflow, body)
    (question,) = workflow.questions
    assert question["symbol"] == "AAPL" and question["bar_size"] == "1 min"
    assert question["bar"]["close"] == 101.0
    assert set(question["indicators"]) == {"sma_fast", "sma_slow", "rsi", "atr"}
    assert question["chart"] == {"url": None, "note": NO_STORE}
    # signed like the notifications: the workflow can tell our posts from others'
    expected = hmac.new(SECRET.encode(), workflow.bodies[0], hashlib.sha256).hexdigest()
    assert workflow.headers[0]["X-Ibtrader-Signature"] == f"sha256={expected}"


@pytest.mark.parametrize(("reply", "reason"), [
    ((500, '{"message": "Error in workflow"}', 0.0), "n8n answered HTTP 500"),
    ((200, "<html>not json</html>", 0.0), "the answer is not JSON"),
    (ok({"action": "buy", "entry": 101.0, "stop": 103.0, "confidence": 0.9}),
     "malformed answer (wrong_side): a buy's stop must be below the entry"),
    (ok({"entry": 101.0}), "malformed answer (missing_action)"),
    (ok({"action": "buy", "entry": 101.0, "stop": 99.0, "confidence": 0.6}, delay=1.0),
     "no answer within 0.4 s"),
])
def test_a_failed_or_malformed_answer_is_refused_with_its_reason(tmp_path, workflow, caplog,
                                                                 reply, reason):
    workflow.answer = lambda _q: reply
    caplog.set_level(logging.WARNING, logger="ibtrader.services.trading_engine")

    async def body(rig: Rig) -> None:
        started = time.perf_counter()
        rig.close(0)
        assert time.perf_counter() - started < 0.05  # the question never runs on the loop
        await until(lambda: bool(rig.refused))
        (name, symbol, why) = rig.refused[0]
        assert (name, symbol) == ("n8n_decision", "AAPL") and reason in why
        (status,) = rig.engine.status()
        assert reason in status.refused["AAPL"]
        assert status.failed == {}  # refused, not broken: the next bar asks again
        assert rig.signals == [] and rig.made == []

    drive(tmp_path, workflow, body, timeout=0.4)
    lines = [r.getMessage() for r in caplog.records]
    assert any("AAPL" in line and reason in line for line in lines), lines
    assert rig_journal_is_empty(tmp_path)


def rig_journal_is_empty(tmp_path: Path) -> bool:
    from ibtrader.adapters.journal import SqliteJournal

    with SqliteJournal(Settings(data_dir=tmp_path).journal_file) as journal:
        return journal.signals() == [] and journal.decisions(limit=10) == []


def test_hold_is_no_signal_and_no_refusal(tmp_path, workflow):
    workflow.answer = lambda _q: ok({"action": "hold", "reason": "chop"})

    async def body(rig: Rig) -> None:
        rig.close(0)
        await until(lambda: len(workflow.questions) == 1)
        await asyncio.sleep(0.1)
        assert rig.signals == [] and rig.refused == []

    drive(tmp_path, workflow, body)


def test_a_newer_bar_supersedes_one_question_in_flight_at_a_time(tmp_path, workflow):
    def slow_first(question: dict[str, Any]) -> Reply:
        _, text, _ = buy_at_close(question)
        return 200, text, 0.5 if len(workflow.questions) == 1 else 0.0

    workflow.answer = slow_first

    async def body(rig: Rig) -> None:
        rig.close(0)
        await until(lambda: len(workflow.questions) == 1)
        rig.close(1, 101.0, 102.0)  # waits: bar 0's question is in flight
        rig.close(2, 102.0, 103.0)  # replaces bar 1, which is never asked about
        await until(lambda: bool(rig.made))
        (decision,) = rig.made
        assert decision.entry_price == 103.0  # bar 2's close
        (refusal,) = rig.refused
        assert "stale: the answer came after the bar at" in refusal[2]

    drive(tmp_path, workflow, body)
    assert [q["bar"]["close"] for q in workflow.questions] == [101.0, 103.0]
    assert workflow.most_in_flight == 1


def test_the_account_as_it_is_when_the_answer_comes_decides(tmp_path, workflow):
    workflow.answer = lambda q: (*buy_at_close(q)[:2], 0.2)

    async def body(rig: Rig) -> None:
        rig.close(0)
        # while n8n thinks, the buying power is used up: the sizing refuses the answer
        rig.account.snapshot = AccountSnapshot(100_000.0, 0.0, {})
        await until(lambda: bool(rig.made))
        (decision,) = rig.made
        assert decision.state is S.REFUSED and decision.refusal_code == NO_BUYING_POWER
        assert len(rig.signals) == 1  # the signal is journalled with its refusal

    drive(tmp_path, workflow, body)


def test_without_the_webhook_setting_it_does_not_load_and_says_why(tmp_path):
    settings = Settings(data_dir=tmp_path, watchlist=("AAPL",), strategies=(SPEC,))
    engine = trading_engine(settings, Bars(), Account())
    errors: list[str] = []
    engine.load_failed += errors.append

    async def main() -> None:
        await engine.start()
        await engine.stop()

    asyncio.run(main())
    engine.journal.close()
    assert engine.status() == []
    assert any("set the n8n_decision_url setting (IBTRADER_N8N_DECISION_URL)" in e
               for e in errors), errors


def test_a_switched_off_strategy_asks_nothing_and_stop_ends_a_pending_question(tmp_path,
                                                                              workflow):
    workflow.answer = lambda q: (*buy_at_close(q)[:2], 0.3)

    async def body(rig: Rig) -> None:
        rig.engine.set_enabled("n8n_decision", False)
        rig.close(0)
        await asyncio.sleep(0.1)
        assert workflow.questions == []
        rig.engine.set_enabled("n8n_decision", True)
        rig.close(1)
        await until(lambda: len(workflow.questions) == 1)
        await rig.engine.stop()  # the question in flight is dropped, nothing decided after
        await asyncio.sleep(0.4)
        assert rig.made == [] and rig.refused == []

    drive(tmp_path, workflow, body)
