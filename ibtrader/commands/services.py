"""`ibtrader services check | init`: the backing services (MinIO, NocoDB, n8n) as configured.

`check` prints one line per service: reachable / authenticated / schema OK, with a fix hint
for each failure, then the journal's outbox per sink (records waiting, the oldest's age,
records failed). It exits 1 when a configured service fails, so scripts and CI can gate on it.
`init` creates what is missing (MinIO's buckets, NocoDB's tables, the n8n workflow)
and is safe to run twice.

The checks block on the network with short timeouts: this is a command, not the engine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ibtrader.adapters.objects.minio_store import MinioObjectStore
    from ibtrader.config import Settings

PROG = "ibtrader services"
HTTP_TIMEOUT = 3.0  # seconds per request: a service that needs longer is not healthy
_AUTH_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                         "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed"})
COMPOSE_HINT = "start it: docker compose -f docker-compose.services.yml up -d"


@dataclass(frozen=True)
class ServiceCheck:
    """What `check` found for one service. None: not checked (an earlier step failed, or
    there is nothing to check yet)."""

    name: str
    where: str = ""  # the URL checked; "" when not configured
    reachable: bool | None = None
    authenticated: bool | None = None
    schema: bool | None = None
    detail: str = ""
    hint: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.where)

    @property
    def failed(self) -> bool:
        return self.configured and False in (self.reachable, self.authenticated, self.schema)

    def line(self) -> str:
        if not self.configured:
            return f"{self.name:<7} not configured{f' ({self.hint})' if self.hint else ''}"
        steps = ", ".join(f"{label} {_word(ok)}" for label, ok in (
            ("reachable", self.reachable), ("authenticated", self.authenticated),
            ("schema", self.schema)))
        text = f"{self.name:<7} {'FAIL' if self.failed else 'OK  '} {self.where}: {steps}"
        if self.detail:
            text += f" — {self.detail}"
        if self.failed and self.hint:
            text += f"\n        fix: {self.hint}"
        return text


def _word(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "NO")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "services", help="the backing services (MinIO, NocoDB, n8n): check or initialise",
        description="`check`: per configured service, reachable / authenticated / schema OK "
                    "with a fix hint, and the outbox waiting for each (exit 1 when a "
                    "configured service fails). `init`: create what is missing (MinIO's "
                    "buckets, NocoDB's tables, the n8n workflow); safe to run twice.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("check", help="is each configured service usable? (exit 1 if not)")
    actions.add_parser("init", help="create what is missing: buckets, tables, the n8n "
                                      "workflow (safe to run twice)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ibtrader.commands.config import load_settings_or_exit

    settings = load_settings_or_exit(args)
    return check(settings, print) if args.action == "check" else init(settings, print)


# --- check ---------------------------------------------------------------------------------

def check(settings: Settings, say: Callable[[str], object]) -> int:
    results = [check_minio(settings), check_nocodb(settings), check_n8n(settings)]
    for result in results:
        say(result.line())
    for line in outbox_lines(Path(settings.journal_file)):
        say(line)
    return 1 if any(r.failed for r in results) else 0


def check_minio(settings: Settings) -> ServiceCheck:
    if not settings.minio_endpoint:
        return ServiceCheck("minio", hint="set minio_endpoint to use MinIO; the history "
                                          "cache stays in the local folder")
    try:
        store = _minio(settings, settings.minio_bucket_charts)
    except ValueError as exc:
        return ServiceCheck("minio", settings.minio_endpoint, False, detail=str(exc),
                            hint="set minio_endpoint to host:port or http(s)://host:port")
    where = store.endpoint
    if not _answers_http(where):
        return ServiceCheck("minio", where, False, detail="no answer",
                            hint=f"{COMPOSE_HINT} minio; or correct minio_endpoint")
    from minio.error import S3Error

    try:
        have = {b.name for b in store.client.list_buckets()}
    except S3Error as exc:
        if exc.code in _AUTH_CODES:
            return ServiceCheck("minio", where, True, False, detail=f"{exc.code}",
                                hint="set minio_access_key / minio_secret_key to "
                                     "MINIO_ROOT_USER / MINIO_ROOT_PASSWORD of .env")
        return ServiceCheck("minio", where, True, None, detail=f"{exc.code}: {exc.message}",
                            hint="see the MinIO server's log")
    except Exception as exc:  # 5xx, a reset connection: reachable, but not usable
        return ServiceCheck("minio", where, True, False, detail=f"{type(exc).__name__}: "
                            f"{exc}", hint="see the MinIO server's log")
    wanted = minio_buckets(settings)
    missing = [b for b in wanted if b not in have]
    if missing:
        return ServiceCheck("minio", where, True, True, False,
                            detail=f"bucket(s) missing: {', '.join(missing)}",
                            hint="ibtrader services init")
    return ServiceCheck("minio", where, True, True, True,
                        detail=f"buckets {', '.join(wanted)} exist")


def check_nocodb(settings: Settings) -> ServiceCheck:
    url = settings.nocodb_url.rstrip("/")
    if not url:
        return ServiceCheck("nocodb", hint="set nocodb_url and nocodb_api_token to mirror "
                                           "the journal to NocoDB")
    health = _get(f"{url}/api/v1/health")
    if not isinstance(health, int) or health != 200:
        return ServiceCheck("nocodb", url, False, detail=f"GET /api/v1/health: {health}",
                            hint=f"{COMPOSE_HINT} nocodb; or correct nocodb_url")
    token = settings.nocodb_api_token
    if not token:
        return ServiceCheck("nocodb", url, True, False, detail="no API token",
                            hint="create an API token in NocoDB (Team & Settings > Tokens) "
                                 "and set nocodb_api_token")
    status = _get(f"{url}/api/v2/meta/bases", headers={"xc-token": token})
    if status != 200:
        return ServiceCheck("nocodb", url, True, False,
                            detail=f"GET /api/v2/meta/bases with the token: {status}",
                            hint="nocodb_api_token is refused: create a new token in NocoDB")
    return _check_mirror(settings, url, token)


def _check_mirror(settings: Settings, url: str, token: str) -> ServiceCheck:
    """The schema part: the base, every table and column of resources/nocodb/schema.json."""
    from ibtrader.adapters.nocodb import (
        MirrorMissing,
        NocoClient,
        NocoError,
        check_columns,
        default_schema,
        find_mirror,
    )

    schema = default_schema()
    client = NocoClient(url, token)
    try:
        report = find_mirror(client, settings.nocodb_base, schema)
        missing = check_columns(client, report, schema)
    except MirrorMissing as exc:
        return ServiceCheck("nocodb", url, True, True, False,
                            detail=str(exc).rsplit(": run", 1)[0],
                            hint="ibtrader services init")
    except NocoError as exc:
        return ServiceCheck("nocodb", url, True, True, None, detail=str(exc),
                            hint="see NocoDB's log")
    finally:
        client.close()
    if missing:
        return ServiceCheck("nocodb", url, True, True, False,
                            detail=f"column(s) missing: {', '.join(missing)}",
                            hint="ibtrader services init")
    return ServiceCheck("nocodb", url, True, True, True,
                        detail=f"base {settings.nocodb_base!r}: {len(schema.tables)} tables")


def check_n8n(settings: Settings) -> ServiceCheck:
    url = settings.n8n_url.rstrip("/")
    if not url:
        return ServiceCheck("n8n", hint="set n8n_url to send notifications through n8n")
    status = _get(f"{url}/healthz/readiness")
    if status != 200:
        return ServiceCheck("n8n", url, False, detail=f"GET /healthz/readiness: {status}",
                            hint=f"{COMPOSE_HINT} n8n; or correct n8n_url")
    return _check_n8n_workflow(settings, url)


def _check_n8n_workflow(settings: Settings, url: str) -> ServiceCheck:
    """Authenticated (the public API takes the key), then the notification workflow there
    and active."""
    from ibtrader.adapters.n8n.api import N8nApi, N8nAuthError, N8nError
    from ibtrader.adapters.n8n.workflow import WorkflowMissing, default_workflow, find_workflow

    key_hint = "create an API key in n8n (Settings > n8n API) and set n8n_api_key"
    if not settings.n8n_api_key:
        return ServiceCheck("n8n", url, True, False, detail="no API key", hint=key_hint)
    workflow = default_workflow()
    api = N8nApi(url, settings.n8n_api_key, timeout=HTTP_TIMEOUT)
    try:
        report = find_workflow(api, workflow)
    except N8nAuthError as exc:
        return ServiceCheck("n8n", url, True, False, detail=str(exc).split(": check")[0],
                            hint=f"n8n_api_key is refused: {key_hint}")
    except WorkflowMissing:
        return ServiceCheck("n8n", url, True, True, False,
                            detail=f"workflow {workflow['name']!r} missing",
                            hint="ibtrader services init")
    except N8nError as exc:
        return ServiceCheck("n8n", url, True, None, detail=str(exc), hint="see n8n's log")
    finally:
        api.close()
    if not report.active:
        return ServiceCheck("n8n", url, True, True, False,
                            detail=f"workflow {workflow['name']!r} is not active",
                            hint="ibtrader services init (it activates it)")
    detail = f"workflow {workflow['name']!r} active"
    if not settings.n8n_webhook_url:
        detail += "; n8n_webhook_url unset: notifications go to the log only"
    return ServiceCheck("n8n", url, True, True, True, detail=detail)


def outbox_lines(journal_file: Path, now: float | None = None) -> list[str]:
    """The outbox per sink as `check` prints it, read from the journal's file."""
    if not journal_file.is_file():
        return [f"outbox  no journal yet at {journal_file}"]
    from ibtrader.adapters.journal.outbox import SqliteOutbox

    try:
        outbox = SqliteOutbox(journal_file)
    except RuntimeError:  # a journal from before issue 7: nothing was ever queued
        return [f"outbox  empty ({journal_file} has no outbox yet)"]
    try:
        stats = outbox.stats()
    finally:
        outbox.close()
    if not stats:
        return [f"outbox  empty: nothing waits ({journal_file})"]
    now = time.time() if now is None else now
    lines = []
    for sink, s in sorted(stats.items()):
        age = s.oldest_age(now)
        text = f"outbox  {sink}: {s.depth} waiting"
        text += f", oldest {age:.0f}s" if age is not None else ""
        text += f", {s.failed} failed (see the log: they are not retried)" if s.failed else ""
        lines.append(text)
    return lines


# --- init ----------------------------------------------------------------------------------

def init(settings: Settings, say: Callable[[str], object]) -> int:
    from ibtrader.adapters.objects.minio_store import ObjectStoreError

    failed = False
    if not settings.minio_endpoint:
        say("minio   not configured: no buckets to create")
    else:
        for bucket in minio_buckets(settings):
            try:
                created = _minio(settings, bucket).ensure_bucket()
            except (ObjectStoreError, ValueError) as exc:
                say(f"minio   FAIL bucket {bucket}: {exc}")
                failed = True
                continue
            say(f"minio   bucket {bucket}: {'created' if created else 'already there'}")
    failed = _init_nocodb(settings, say) or failed
    failed = _init_n8n(settings, say) or failed
    return 1 if failed else 0


def _init_n8n(settings: Settings, say: Callable[[str], object]) -> bool:
    """The notification workflow of resources/n8n/ imported (when absent) and active;
    True when it failed."""
    url = settings.n8n_url.rstrip("/")
    if not url or not settings.n8n_api_key:
        say("n8n     not configured: set n8n_url and n8n_api_key to import the notification "
            "workflow")
        return False
    from ibtrader.adapters.n8n.api import N8nApi, N8nError
    from ibtrader.adapters.n8n.workflow import default_workflow, ensure_workflow

    workflow = default_workflow()
    api = N8nApi(url, settings.n8n_api_key, timeout=max(HTTP_TIMEOUT, 15.0))
    try:
        report = ensure_workflow(api, workflow, settings.n8n_webhook_secret)
    except (N8nError, ValueError) as exc:
        say(f"n8n     FAIL: {exc}")
        return True
    finally:
        api.close()
    say(f"n8n     workflow {workflow['name']!r} ({report.workflow_id}): "
        + (", ".join(report.created) if report.changed else "already there, active"))
    return False


def _init_nocodb(settings: Settings, say: Callable[[str], object]) -> bool:
    """The base and the tables of resources/nocodb/schema.json, what is missing only;
    True when it failed."""
    url = settings.nocodb_url.rstrip("/")
    if not url or not settings.nocodb_api_token:
        say("nocodb  not configured: set nocodb_url and nocodb_api_token to mirror the journal")
        return False
    from ibtrader.adapters.nocodb import NocoClient, NocoError, default_schema, ensure_mirror

    client = NocoClient(url, settings.nocodb_api_token)
    try:
        report = ensure_mirror(client, settings.nocodb_base, default_schema())
    except NocoError as exc:
        say(f"nocodb  FAIL: {exc}")
        return True
    finally:
        client.close()
    say(f"nocodb  base {settings.nocodb_base!r}: "
        + (f"created {', '.join(report.created)}" if report.changed else "already there"))
    return False


# --- helpers -------------------------------------------------------------------------------

def minio_buckets(settings: Settings) -> list[str]:
    return list(dict.fromkeys((settings.minio_bucket_charts, settings.minio_bucket_marketdata)))


def _minio(settings: Settings, bucket: str) -> MinioObjectStore:
    from ibtrader.app import minio_store

    # no retries: a check reports what it sees now
    return minio_store(settings, bucket, connect_timeout=HTTP_TIMEOUT,
                       read_timeout=HTTP_TIMEOUT, retries=0)


def _answers_http(url: str) -> bool:
    """Any HTTP answer at all (S3 answers 403 to a bare GET): the server is there."""
    return isinstance(_get(url), int)


def _get(url: str, headers: dict[str, str] | None = None) -> int | str:
    """The HTTP status of a GET, or why there is none (refused, timed out, bad URL)."""
    import requests

    try:
        with requests.get(url, headers=headers, timeout=HTTP_TIMEOUT,
                          allow_redirects=False) as response:
            return response.status_code
    except requests.exceptions.Timeout:
        return f"no answer in {HTTP_TIMEOUT:.0f} s"
    except requests.exceptions.ConnectionError:
        return "connection refused or host unknown"
    except requests.exceptions.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"
