"""`ibtrader serve` in a real process: the engine on the simulator and the web layer, no Qt;
a clean stop on SIGTERM and SIGINT; a clear error when the port is taken."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ibtrader.web.credentials import CredentialStore, store_path
from tests.web.harness import FAST_HISTORY
from tests.web.sse import SseClient

CONFIG = """
watchlist = ["AAPL", "MSFT"]
strategies = []
history_lookback = [{lookback}]
sim_seed = 3
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    config = tmp_path / "ibtrader.toml"
    config.write_text(CONFIG.format(lookback=", ".join(f'"{v}"' for v in FAST_HISTORY)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBTRADER_")}
    env["IBTRADER_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.Popen([sys.executable, "-m", "ibtrader", "--config", str(config), "serve",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def wait_healthy(port: int, proc: subprocess.Popen[str], timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            response = requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
            if response.status_code == 200:
                return response.json()
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not become healthy in time")


def stop(proc: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"serve did not stop on {sig.name}:\n{out}\n{err}") from None
    return proc.returncode, out, err, time.monotonic() - started


def test_importing_serve_and_its_runtime_pulls_in_no_qt():
    code = ("import sys, ibtrader.cli, ibtrader.app, ibtrader.web.runtime, "
            "ibtrader.backtest.jobs, ibtrader.commands.serve; "
            "ibtrader.cli.build_parser(['serve']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'qasync', 'pyqtgraph')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow  # a whole app in a process: ~3 s to start
def test_serve_runs_the_engine_behind_the_api_and_stops_cleanly_on_sigterm(tmp_path):
    store = CredentialStore(store_path(tmp_path / "data"))
    key = store.create_key("serve-test").key
    store.close()
    port = free_port()
    proc = start(tmp_path, "--port", str(port), "--symbols", "AAPL")
    try:
        body = wait_healthy(port, proc)
        assert body["engine"] == "running" and body["broker"]["state"] == "connected"
        stream = SseClient("127.0.0.1", port, {"X-API-Key": key})
        first = stream.until(lambda m: True)[0]
        assert first.kind == "snapshot"
        assert {q["symbol"] for q in first.data["quotes"]} <= {"AAPL"}  # --symbols wins
        code, out, err, took = stop(proc, signal.SIGTERM)
        while not stream.ended:  # the web server went first: the stream ended
            stream.read(5.0)
        stream.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert took < 8.0
    assert f"web dashboard and API at http://127.0.0.1:{port}" in out
    assert "apikey create" not in out  # a key exists
    assert "ibtrader web set-password" in out  # no password yet
    assert out.rstrip().endswith("stopped (open orders stay at the broker; the journal is "
                                 "closed)")
    assert "Traceback" not in err


@pytest.mark.slow
def test_sigint_stops_it_the_same_way_and_first_run_hints_say_how_to_get_in(tmp_path):
    port = free_port()
    proc = start(tmp_path, "--port", str(port))
    try:
        wait_healthy(port, proc)
        code, out, err, took = stop(proc, signal.SIGINT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, err
    assert took < 8.0
    assert "`ibtrader apikey create NAME`" in out
    assert "stopped" in out.splitlines()[-1]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_a_port_in_use_is_a_one_line_error_and_exit_code_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start(tmp_path, "--port", str(port))
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [
        f"ibtrader serve: cannot listen on 127.0.0.1:{port}: Address already in use"]


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_a_bad_port_is_refused_by_the_command_line(tmp_path, port):
    proc = start(tmp_path, "--port", port)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "--port" in err
