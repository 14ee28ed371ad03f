"""A real NocoDB 0.301.3 on 127.0.0.1 (npm package in library mode under Node 24, SQLite in a
temp folder), ready in ≈ 2 s. `stop()` then `start()` brings it back on the same port with
the same data, as a restarted service would be.

`api_token()` signs up the first user (NocoDB makes it super admin) and creates an API
token, the `xc-token` the app is configured with.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import requests

from tests.integration.node_services import (
    REPO,
    ensure_installed,
    node_binary,
    stop_process,
    wait_http,
)
from tests.integration.s3server import free_port

STARTER = REPO / "scripts" / "services" / "nocodb.js"
ADMIN_EMAIL = "admin@ibtrader.test"


class NocoServer:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.install_dir = ensure_installed("nocodb")
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12) + "A1!"
        self._jwt_secret = secrets.token_hex(16)  # the same across restarts: tokens stay valid
        self._token: str | None = None
        self._signed_up = False
        self.logs: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> NocoServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / f"nocodb-{len(self.logs)}.log"
        self.logs.append(log)
        env = {**os.environ, "PORT": str(self.port),
               "NODE_PATH": str(self.install_dir / "node_modules"),
               "NC_DB": f"sqlite3://?d={self.data_dir / 'noco.db'}",
               "NC_AUTH_JWT_SECRET": self._jwt_secret, "NC_DISABLE_TELE": "true",
               "NC_PUBLIC_URL": self.url}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(node_binary()), str(STARTER)], cwd=self.data_dir, env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_http(f"{self.url}/api/v1/health", self.process, log, timeout)
        return self

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def admin_jwt(self) -> str:
        """A session token of the super admin (signed up on first use)."""
        body = {"email": ADMIN_EMAIL, "password": self.password}
        path = "signin" if self._signed_up else "signup"
        response = requests.post(f"{self.url}/api/v1/auth/user/{path}", json=body, timeout=10)
        response.raise_for_status()
        self._signed_up = True
        return str(response.json()["token"])

    def api_token(self) -> str:
        """An API token (xc-token) of the super admin; made once, valid across restarts."""
        if self._token is None:
            response = requests.post(f"{self.url}/api/v1/tokens",
                                     headers={"xc-auth": self.admin_jwt()},
                                     json={"description": "ibtrader tests"}, timeout=10)
            response.raise_for_status()
            self._token = str(response.json()["token"])
        return self._token
