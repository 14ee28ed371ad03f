"""Logging for every ibtrader process: a rotating file in the log folder plus the console,
as plain text or JSON lines, with secrets redacted from every record before any handler
writes it."""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ibtrader.config import LOG_LEVELS, MASK, Settings

LOG_FILE = "ibtrader.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
# Handlers we own carry these names, so a second configure_logging replaces them.
_FILE_HANDLER = "ibtrader.file"
_CONSOLE_HANDLER = "ibtrader.console"
# Chatty at INFO (ib_async logs every order status and connection step); kept at WARNING
# unless the user asked for DEBUG.
NOISY_LOGGERS = ("ib_async", "eventkit", "asyncio", "qasync", "urllib3", "waitress", "PIL")

TEXT_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
TEXT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# Credentials that show up in text: `token=…`, `"password": "…"`, `X-API-Key: …`,
# `Authorization: Bearer …`, and the password in `scheme://user:password@host`.
_NAMED_SECRET = re.compile(
    r"""(?ix)
    ( \b[\w-]*(?:token|password|passwd|secret|[_-]key|apikey)["']?\s*[=:]\s*
      (?:(?:bearer|basic|token)\s+)? )
    ("[^"]*"|'[^']*'|[^\s"'&,;]+)
    """)
_AUTHORIZATION = re.compile(r"(?i)(\bauthorization[\"']?\s*[=:]\s*(?:\w+\s+)?|\bbearer\s+)(\S+)")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)([^/\s@]+)(@)")


class SecretRedactingFilter(logging.Filter):
    """Replaces secret values and credential-looking text with a mask in a record's message,
    its formatted arguments, its exception text and its stack. Attach it to handlers, not
    loggers: a logger's filters never see records propagated from its children."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _AUTHORIZATION.sub(lambda m: m[1] + MASK, text)
        text = _NAMED_SECRET.sub(lambda m: m[1] + MASK, text)
        return _URL_PASSWORD.sub(lambda m: m[1] + MASK + m[3], text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(_message_of(record)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_PLAIN = logging.Formatter()


def _message_of(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a bad format string must not turn a log call into a crash
        return f"{record.msg!r} % {record.args!r} (the arguments did not fit the format)"


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO-8601, UTC), level, logger, msg[, exc_info]."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record arrives (a test's capture, a GUI's
    redirect), not the stream that was current when logging was configured."""

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _not_from_ib_async_wrapper(record: logging.LogRecord) -> bool:
    """ib_async logs every broker error message itself; the adapter turns each into a
    typed event that the app reports in its own words, so on the console it would be said
    twice. The file keeps ib_async's line."""
    return not record.name.startswith("ib_async.wrapper")


def configure_logging(settings: Settings, *, console: bool = True,
                      console_level: str | None = None) -> None:
    """Route the root logger to the log file (and stderr). Calling it again replaces the
    handlers it added before, so it is safe to call once per command and again in tests."""
    if console_level is not None and console_level.upper() not in LOG_LEVELS:
        raise ValueError(f"console_level must be one of {', '.join(LOG_LEVELS)}")
    root = logging.getLogger()
    _remove_ours(root)
    redactor = SecretRedactingFilter(settings.secret_values())
    formatter = (JsonLinesFormatter() if settings.log_format == "json"
                 else logging.Formatter(TEXT_FORMAT, TEXT_DATE_FORMAT))
    levels = [settings.log_level]
    problem = None
    try:
        _add(root, _file_handler(settings), _FILE_HANDLER, settings.log_level, formatter)
    except OSError as exc:
        # A trading session must not stop because its log folder is not writable.
        problem = f"logging to the console only: cannot write {settings.log_dir}: {exc}"
    if console and sys.stderr is not None:  # None in a windowed (no console) build
        level = (console_level or settings.log_level).upper()
        console_handler = _StderrHandler()
        console_handler.addFilter(_not_from_ib_async_wrapper)
        _add(root, console_handler, _CONSOLE_HANDLER, level, formatter)
        levels.append(level)
    for handler in root.handlers:  # ours, and any already there (a GUI panel, pytest)
        handler.addFilter(redactor)
    root.setLevel(min(logging.getLevelNamesMapping()[name] for name in levels))
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(
            logging.NOTSET if settings.log_level == "DEBUG" else logging.WARNING)
    logging.captureWarnings(True)
    if problem:
        logging.getLogger("ibtrader.logging").warning(problem)


def _file_handler(settings: Settings) -> logging.Handler:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        settings.log_dir / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    return handler


def _add(root: logging.Logger, handler: logging.Handler, name: str, level: str,
         formatter: logging.Formatter) -> None:
    handler.set_name(name)
    handler.setLevel(level)
    handler.setFormatter(formatter)
    root.addHandler(handler)


def _remove_ours(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        for old in [f for f in handler.filters if isinstance(f, SecretRedactingFilter)]:
            handler.removeFilter(old)
        if handler.get_name() in (_FILE_HANDLER, _CONSOLE_HANDLER):
            root.removeHandler(handler)
            handler.close()
