"""`ibtrader signals` end to end: the command in its own process against the simulator
started in-process, a user strategy from the strategies folder, the journal on disk."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

EAGER = '''
    from ibtrader.core.indicators import make_indicator
    from ibtrader.core.strategy import NO_SIGNALS, Strategy

    class Eager(Strategy):
        """buys on the first forming 1-minute bar it sees: a signal within seconds"""
        name = "eager_test"
        bar_size = "1 min"
        sees_forming = True

        def indicators(self):
            return {"sma": make_indicator("sma", period=5)}

        def on_bar(self, ctx):
            if ctx.forming and ctx.values["sma"] is not None:
                return [self.signal(ctx, "buy", "a forming bar", values={"sma": ctx.values["sma"]},
                                    stop=ctx.bar.close * 0.99)]
            return NO_SIGNALS
'''


def run_signals(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IBTRADER_DATA_DIR": str(tmp_path / "data"), "IBTRADER_SIM_SEED": "5"}
    return subprocess.run([sys.executable, "-m", "ibtrader", "signals", *args],
                          capture_output=True, text=True, timeout=90, env=env)


def test_backfill_progress_forming_bars_signals_and_decisions_in_the_journal(tmp_path):
    folder = tmp_path / "data" / "strategies"
    folder.mkdir(parents=True)
    (folder / "eager.py").write_text(textwrap.dedent(EAGER))
    done = run_signals(tmp_path, "AAPL", "eurusd", "NOSUCH", "--seconds", "12", "--every", "3",
                       "--strategy", "eager_test", "--strategy", "sma_cross:fast=3;slow=5")
    out = done.stdout
    assert done.returncode == 0, done.stderr
    assert "strategy eager_test on 1 min bars" in out
    assert "backfill 2/2 symbols" in out and "NOSUCH is not subscribed" in out
    assert "AAPL 1 min forming" in out and "sma_cross: fast=" in out  # indicators after warm-up
    assert "SIGNAL eager_test AAPL buy" in out and "SIGNAL eager_test EURUSD buy" in out
    assert "DECISION pending eager_test AAPL: open buy" in out
    assert "Error 200" not in done.stderr  # ib_async's own line stays in the log file

    journal = sqlite3.connect(tmp_path / "data" / "journal.sqlite")
    strategies = {row[0] for row in journal.execute("SELECT strategy FROM signals")}
    decisions = list(journal.execute("SELECT symbol, state, reason FROM decisions"))
    journal.close()
    assert strategies == {"eager_test"}
    # one pending decision per symbol; a minute that turns during the run brings a newer
    # signal, which replaces (expires) the unanswered one before it
    assert {(sym, state) for sym, state, _ in decisions if state == "pending"} == {
        ("AAPL", "pending"), ("EURUSD", "pending")}
    assert all(reason == "replaced by a newer signal"
               for _, state, reason in decisions if state != "pending")


def test_a_strategy_that_cannot_run_is_reported_and_the_command_fails(tmp_path):
    done = run_signals(tmp_path, "AAPL", "--seconds", "1", "--strategy", "sma_cross:fast=50")
    assert done.returncode == 1
    assert "sma_cross: fast must be below slow" in done.stderr
    assert "no strategy can run" in done.stderr
