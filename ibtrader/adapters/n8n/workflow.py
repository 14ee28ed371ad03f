"""The notification workflow in n8n: imported from resources/n8n/notifications.json when
missing (matched by name), its webhook secret in an n8n credential, and active.

`ensure_workflow` is what `ibtrader services init` runs; a second run finds everything in
place and creates nothing (it only sets the credential's secret to the configured one again,
so changing `n8n_webhook_secret` and re-running init keeps both sides in step).
`find_workflow` only looks, for `services check`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ibtrader.resources import shared_file

from .api import N8nApi, N8nError

CREDENTIAL_TYPE = "crypto"  # n8n's Crypto node reads the HMAC secret from it


class WorkflowMissing(N8nError):
    """The workflow is not in n8n, or not active."""


@dataclass(slots=True)
class WorkflowReport:
    workflow_id: str
    active: bool
    created: list[str] = field(default_factory=list)  # "credential x", "workflow y", ...

    @property
    def changed(self) -> bool:
        return bool(self.created)


def default_workflow() -> dict[str, Any]:
    """The workflow the app ships."""
    return load_workflow(shared_file("n8n", "notifications.json"))


def load_workflow(path: Path) -> dict[str, Any]:
    try:
        workflow = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"n8n workflow {path}: cannot be read ({exc})") from exc
    if not isinstance(workflow, dict) or not workflow.get("name") or \
            not isinstance(workflow.get("nodes"), list):
        raise ValueError(f"n8n workflow {path}: needs a name and a list of nodes")
    return workflow


def credential_name(workflow: dict[str, Any]) -> str | None:
    """The name of the Crypto credential the workflow's nodes refer to (None: no node)."""
    for node in workflow["nodes"]:
        ref = (node.get("credentials") or {}).get(CREDENTIAL_TYPE)
        if ref:
            return str(ref["name"])
    return None


def find_workflow(api: N8nApi, workflow: dict[str, Any]) -> WorkflowReport:
    """The workflow by name; WorkflowMissing when absent."""
    found = api.workflows(workflow["name"])
    if not found:
        raise WorkflowMissing(f"n8n has no workflow {workflow['name']!r}: run "
                              f"`ibtrader services init`")
    return WorkflowReport(str(found[0]["id"]), bool(found[0].get("active")))


def ensure_workflow(api: N8nApi, workflow: dict[str, Any], secret: str) -> WorkflowReport:
    if not secret:
        raise ValueError("n8n_webhook_secret is empty: set IBTRADER_N8N_WEBHOOK_SECRET, the "
                         "key both ibtrader and the workflow sign events with")
    created: list[str] = []
    credential_id = _ensure_credential(api, credential_name(workflow), secret, created)
    found = api.workflows(workflow["name"])
    if found:
        workflow_id, active = str(found[0]["id"]), bool(found[0].get("active"))
    else:
        made = api.create_workflow(_with_credential(workflow, credential_id))
        workflow_id, active = str(made["id"]), False
        created.append(f"workflow {workflow['name']!r}")
    if not active:
        api.activate(workflow_id)
        created.append(f"workflow {workflow['name']!r} activated")
    return WorkflowReport(workflow_id, True, created)


def _ensure_credential(api: N8nApi, name: str | None, secret: str,
                       created: list[str]) -> str | None:
    if name is None:
        return None
    data = {"hmacSecret": secret}
    for credential in api.credentials():
        if credential.get("name") == name and credential.get("type") == CREDENTIAL_TYPE:
            api.update_credential(str(credential["id"]), CREDENTIAL_TYPE, data)
            return str(credential["id"])
    made = api.create_credential(name, CREDENTIAL_TYPE, data)
    created.append(f"credential {name!r}")
    return str(made["id"])


def _with_credential(workflow: dict[str, Any], credential_id: str | None) -> dict[str, Any]:
    """A copy whose Crypto nodes refer to the credential by its id in this n8n."""
    copy = json.loads(json.dumps(workflow))
    for node in copy["nodes"]:
        ref = (node.get("credentials") or {}).get(CREDENTIAL_TYPE)
        if ref is not None and credential_id is not None:
            ref["id"] = credential_id
    return copy
