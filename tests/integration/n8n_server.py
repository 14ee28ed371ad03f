"""A real n8n 2.41.1 on 127.0.0.1 (npm package under Node 24, SQLite in a temp folder),
ready in ≈ 10 s here, plus its task-runner process (stopped with it: one process group).

Workflows are imported and published with n8n's own CLI while the server is stopped
(publishing takes effect at the next start), then the server starts:

    server = N8nServer(tmp_path)
    server.import_workflow(Path("resources/n8n/notify.json"))  # published unless active=False
    server.start()
    server.wait_webhook("ibtrader-events")  # a fresh webhook may 404 for a moment
    requests.post(server.webhook_url("ibtrader-events"), json={...})

For the public API (`/api/v1`, what `ibtrader services init` uses), `create_api_key()` sets
up the instance's owner once (POST /rest/owner/setup, whose answer carries the session
cookie) and makes an API key with every scope the owner may grant (GET /rest/api-keys/scopes,
then POST /rest/api-keys); `executions()` lists what the workflows ran.

`stop()` then `start()` brings it back on the same port with the same data.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from tests.integration.node_services import (
    ensure_installed,
    node_binary,
    stop_process,
    wait_http,
)
from tests.integration.s3server import free_port


class N8nServer:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.install_dir = ensure_installed("n8n")
        self.data_dir = data_dir
        self.port = port or free_port()
        self.runner_port = free_port()  # the task broker's port: default 5679 would collide
        self.url = f"http://127.0.0.1:{self.port}"
        self._key = secrets.token_hex(16)  # the same across restarts: credentials stay readable
        self.logs: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.owner = {"email": "owner@ibtrader.test", "firstName": "Ib", "lastName": "Trader",
                      "password": "Owner-" + secrets.token_hex(8)}  # n8n wants a digit, an upper
        self._session = ""  # the owner's n8n-auth cookie, once set up

    def env(self) -> dict[str, str]:
        return {**os.environ, "N8N_USER_FOLDER": str(self.data_dir),
                "N8N_ENCRYPTION_KEY": self._key, "N8N_HOST": "127.0.0.1",
                "N8N_LISTEN_ADDRESS": "127.0.0.1", "N8N_PORT": str(self.port),
                "N8N_RUNNERS_BROKER_LISTEN_ADDRESS": "127.0.0.1",
                "N8N_RUNNERS_BROKER_PORT": str(self.runner_port),
                "N8N_DIAGNOSTICS_ENABLED": "false", "N8N_DISABLED_MODULES": "mcp-registry",
                "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
                "N8N_PERSONALIZATION_ENABLED": "false", "DB_TYPE": "sqlite",
                "WEBHOOK_URL": f"{self.url}/"}

    def _cli(self, *args: str, timeout: float = 120.0) -> str:
        """Run an n8n CLI command against this server's data (server stopped)."""
        if self.process is not None:
            raise RuntimeError("n8n CLI commands need the server stopped (they share its "
                               "database and take effect at the next start)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        n8n = self.install_dir / "node_modules" / "n8n" / "bin" / "n8n"
        result = subprocess.run([str(node_binary()), str(n8n), *args], env=self.env(),
                                cwd=self.data_dir, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"n8n {' '.join(args)} failed ({result.returncode}):\n"
                               f"{(result.stdout + result.stderr)[-3000:]}")
        return result.stdout

    def import_workflow(self, path: Path, active: bool = True) -> str:
        """Import a workflow JSON (given an id when it has none) and publish it unless
        `active=False`; returns its id."""
        workflow: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        workflow.setdefault("id", uuid.uuid4().hex[:16])
        workflow["active"] = False  # the CLI's publish is what activates it
        copy = self.data_dir / f"import-{workflow['id']}.json"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        copy.write_text(json.dumps(workflow), encoding="utf-8")
        self._cli("import:workflow", f"--input={copy}")
        if active:
            self._cli("publish:workflow", f"--id={workflow['id']}")
        return str(workflow["id"])

    def start(self, timeout: float = 90.0) -> N8nServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / f"n8n-{len(self.logs)}.log"
        self.logs.append(log)
        n8n = self.install_dir / "node_modules" / "n8n" / "bin" / "n8n"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(node_binary()), str(n8n), "start"], cwd=self.data_dir, env=self.env(),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_http(f"{self.url}/healthz/readiness", self.process, log, timeout)
        return self

    def stop(self) -> None:
        stop_process(self.process, timeout=20)
        self.process = None

    def webhook_url(self, path: str) -> str:
        return f"{self.url}/webhook/{path}"

    def wait_webhook(self, path: str, probe: str = "GET", timeout: float = 15.0) -> None:
        """Poll until the production webhook is registered (it may 404 for a moment after
        start). It asks with `probe`, a method the webhook does NOT serve (GET for a POST
        webhook), so no execution starts: n8n then answers 404 "Did you mean to make a
        POST request?" once the path is registered. (OPTIONS is no use: always 204.)"""
        deadline = time.monotonic() + timeout
        while True:
            response = requests.request(probe, self.webhook_url(path), timeout=5)
            if response.status_code != 404 or "Did you mean" in response.text:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"n8n webhook /webhook/{path} not registered after "
                                   f"{timeout} s: is its workflow published?")
            time.sleep(0.1)

    # --- the public API ----------------------------------------------------------------------

    def _owner_cookie(self) -> str:
        """Set up the owner (first call) or log in; the n8n-auth cookie (sent by hand: n8n
        marks it Secure, which requests would withhold over http)."""
        if not self._session:
            answer = requests.post(f"{self.url}/rest/owner/setup", json=self.owner, timeout=15)
            if answer.status_code != 200:  # set up before (a restart): log in instead
                answer = requests.post(f"{self.url}/rest/login", timeout=15, json={
                    "emailOrLdapLoginId": self.owner["email"],
                    "password": self.owner["password"]})
            answer.raise_for_status()
            self._session = answer.cookies["n8n-auth"]
        return self._session

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call to n8n's internal API (/rest) as the owner; its `data`."""
        answer = requests.request(method, f"{self.url}/rest{path}", timeout=15,
                                  headers={"Cookie": f"n8n-auth={self._owner_cookie()}"},
                                  **kwargs)
        if answer.status_code != 200:
            raise RuntimeError(f"n8n {method} /rest{path}: {answer.status_code} {answer.text}")
        return answer.json()["data"]

    def create_api_key(self, label: str = "ibtrader", scopes: list[str] | None = None) -> str:
        """A new public-API key of the owner (all the owner's scopes unless given)."""
        scopes = scopes if scopes is not None else self.rest("GET", "/api-keys/scopes")
        made = self.rest("POST", "/api-keys", json={"label": label, "scopes": scopes,
                                                    "expiresAt": None})
        return str(made["rawApiKey"])

    def executions(self, api_key: str, workflow_id: str | None = None,
                   include_data: bool = True) -> list[dict[str, Any]]:
        """Every execution kept (newest first), with each node's output by default."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"includeData": str(include_data).lower(), "limit": 250}
        if workflow_id:
            params["workflowId"] = workflow_id
        while True:
            answer = requests.get(f"{self.url}/api/v1/executions", params=params, timeout=30,
                                  headers={"X-N8N-API-KEY": api_key})
            answer.raise_for_status()
            page = answer.json()
            found += page["data"]
            if not page.get("nextCursor"):
                return found
            params["cursor"] = page["nextCursor"]
