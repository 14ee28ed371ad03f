"""`ibtrader bench gui`'s instruments: the lag probe sees a frozen loop, and a short stall
run streams real quotes through the main window's watchlist."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from ibtrader.benchmarks.gui import GuiBench, LagProbe, StallResult, StartupRun
from tests.gui.conftest import drive


def test_the_lag_probe_sees_a_blocked_loop(qtbot, qloop):
    async def scenario() -> list[float]:
        probe = LagProbe()
        probe.start()
        await asyncio.sleep(0.1)
        asyncio.get_running_loop().call_soon(time.sleep, 0.12)  # a handler that blocks
        await asyncio.sleep(0.3)
        return await probe.stop()

    lags = drive(qtbot, scenario())
    assert len(lags) > 10
    assert 0.1 <= max(lags) < 0.5
    assert sorted(lags)[len(lags) // 2] < 0.05  # otherwise the probe wakes on time


@pytest.mark.slow
def test_a_short_stall_run_streams_quotes_through_the_window(tmp_path):
    # its own process, as `ibtrader bench gui` runs: it makes and closes its own loop
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "ibtrader", "bench", "gui", "--starts", "0",
                           "--symbols", "10", "--seconds", "2", "--tick-interval", "0.05",
                           "--no-chart", "--json"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    stall = StallResult(**json.loads(done.stdout)["stall"])
    assert stall.quotes > 0 and 0 < stall.flushes <= 2.0 * 25
    assert stall.cells_changed > 0 and stall.max_stall_ms >= 0
    bench = GuiBench([StartupRun(0.9, 1.2, 2.0), StartupRun(0.8, 1.0, 1.5)], stall)
    text = "\n".join(bench.lines())
    assert "first window painted: cold 0.90 s, warm median 0.80 s" in text
    assert "10 symbols streaming for 2 s" in text
