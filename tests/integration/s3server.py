"""A real S3 server on 127.0.0.1 for the unchanged `minio` client: moto's server mode
(`moto_server -H 127.0.0.1 -p PORT`, ready in well under a second). MinIO's own server
binary cannot be installed here; see shared STACK_NOTES.

The server's request log is kept, so tests can count the PUTs each key received: that is
how "delivered exactly once" is checked, not only "the object is there".
"""

from __future__ import annotations

import collections
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

MOTO_SERVER = Path(sys.executable).parent / "moto_server"
_PUT = re.compile(r'"PUT /([^ ?]+) HTTP/1\.1" 200 ')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3Server:
    """One moto server process; `stop()` then `start()` brings it back on the same port
    (empty: moto keeps its state in memory), `pause()`/`resume()` make it hang (SIGSTOP)."""

    def __init__(self, log_dir: Path, port: int | None = None, enforce_auth: bool = False):
        self.port = port or free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.enforce_auth = enforce_auth
        self.logs: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> S3Server:
        log = self.log_dir / f"moto-{self.port}-{len(self.logs)}.log"
        self.logs.append(log)
        env = dict(os.environ)
        if self.enforce_auth:  # check access keys against moto's IAM from the first request
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto_server not ready on {self.endpoint} in {timeout} s")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.endpoint}/moto-api/", timeout=1):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # in case it was paused
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def puts(self) -> collections.Counter[str]:
        """Successful PUTs per "bucket/key" over every run of this server."""
        counts: collections.Counter[str] = collections.Counter()
        for log in self.logs:
            counts.update(m.group(1) for m in _PUT.finditer(log.read_text(errors="replace")))
        return counts


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[S3Server]:
    """A fresh moto S3 server per test (0.4 s to start): tests stop and restart it.
    tests/conftest.py registers this module as a plugin, so every test package has it."""
    server = S3Server(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
