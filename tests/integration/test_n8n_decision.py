"""The n8n_decision strategy against a real n8n 2.41.1 (tests/integration/n8n_server.py):
three imported workflows answer its webhook questions - one from the posted indicator
values (a Code node computing the trade), one with malformed JSON, one after a Wait node
longer than the timeout. The first gives a decision sized from the workflow's stop; the
others are refused with the reason logged, and give no signal."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ibtrader.app import trading_engine
from ibtrader.config import Settings
from ibtrader.core.decisions import Decision, DecisionState, SignalRecord
from tests.integration.n8n_server import N8nServer
from tests.services.test_trading_engine import Account, Bars, bar

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # one n8n boot, ≈ 30 s here

DATA = Path(__file__).parent / "data"
PATHS = {"good": "ibtrader-decide", "malformed": "ibtrader-decide-malformed",
         "slow": "ibtrader-decide-slow"}
SPEC = "n8n_decision:fast=3;slow=6;rsi_period=5;atr_period=5;bar_size=1 min"
TIMEOUT = 1.5  # the slow workflow waits 4 s
# a steady climb: the fast SMA above the slow one, so the workflow's Code node says buy
HISTORY = [bar(i, 100.0 + i, 100.5 + i) for i in range(12)]


@pytest.fixture(scope="module")
def n8n(tmp_path_factory: pytest.TempPathFactory) -> Iterator[N8nServer]:
    server = N8nServer(tmp_path_factory.mktemp("n8n"))
    for name in PATHS:
        server.import_workflow(DATA / f"n8n_decision_{name}.json")
    server.start()
    try:
        for path in PATHS.values():
            server.wait_webhook(path)
        yield server
    finally:
        server.stop()


@dataclass
class Outcome:
    signals: list[SignalRecord] = field(default_factory=list)
    made: list[Decision] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    values: dict[str, float | None] = field(default_factory=dict)  # the indicators posted


def run_one_bar(tmp_path: Path, url: str) -> Outcome:
    """One closed bar through the engine, asking `url`, until an answer or a refusal."""
    settings = Settings(data_dir=tmp_path, watchlist=("AAPL",), strategies=(SPEC,),
                        n8n_decision_url=url, n8n_decision_timeout=TIMEOUT,
                        decision_expiry_seconds=60, max_position_value=0)
    bars = Bars({("AAPL", "1 min"): HISTORY})
    engine = trading_engine(settings, bars, Account())
    out = Outcome()
    engine.signal_emitted += out.signals.append
    engine.decision_made += out.made.append
    engine.advice_refused += lambda *a: out.refused.append(a)

    async def main() -> None:
        await engine.start()
        try:
            bars.bar_closed.emit("AAPL", "1 min", bar(12, 112.0, 112.5))
            out.values = engine.indicator_values("AAPL")["n8n_decision"]
            deadline = time.monotonic() + TIMEOUT + 10
            while not (out.made or out.refused) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        finally:
            await engine.stop()

    asyncio.run(main())
    engine.journal.close()
    return out


def test_a_workflow_that_answers_gives_a_decision(n8n, tmp_path):
    out = run_one_bar(tmp_path, n8n.webhook_url(PATHS["good"]))
    assert out.refused == []
    (decision,) = out.made
    (record,) = out.signals
    values = out.values
    atr = values["atr"]
    assert atr is not None and values["sma_fast"] > values["sma_slow"]
    # the reason the Code node wrote from the posted values (no MinIO: no chart link)
    assert record.signal.reason == (f"n8n: sma {values['sma_fast']:g} vs "
                                    f"{values['sma_slow']:g}, chart none")
    assert decision.state is DecisionState.PENDING and decision.side == "buy"
    # the Code node's stop (2 ATRs under the close) sizes the trade: 0.5 % of 100k
    assert decision.stop == pytest.approx(112.5 - 2 * atr)
    assert decision.target == pytest.approx(112.5 + 4 * atr)
    assert decision.quantity == int(500 / (2 * atr))


@pytest.mark.parametrize(("workflow", "reason"), [
    ("malformed", "the answer is not JSON"),
    ("slow", f"no answer within {TIMEOUT:g} s"),
])
def test_a_malformed_or_late_answer_is_refused_and_logged(n8n, tmp_path, caplog, workflow,
                                                          reason):
    caplog.set_level(logging.WARNING, logger="ibtrader.services.trading_engine")
    started = time.monotonic()
    out = run_one_bar(tmp_path, n8n.webhook_url(PATHS[workflow]))
    assert out.signals == [] and out.made == []
    (refusal,) = out.refused
    assert refusal[:2] == ("n8n_decision", "AAPL") and reason in refusal[2]
    assert any("AAPL" in r.getMessage() and reason in r.getMessage() for r in caplog.records)
    if workflow == "slow":  # refused at the timeout, not when n8n finally answers
        assert time.monotonic() - started < TIMEOUT + 1.5
