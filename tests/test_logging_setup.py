from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibtrader.config import MASK, Settings
from ibtrader.logging_setup import (
    BACKUPS,
    LOG_FILE,
    MAX_BYTES,
    SecretRedactingFilter,
    configure_logging,
)

SECRET = "hunter2-very-secret"


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy_level = logging.getLogger("ib_async").level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
        for f in [f for f in handler.filters if isinstance(f, SecretRedactingFilter)]:
            handler.removeFilter(f)
    root.setLevel(level)
    logging.getLogger("ib_async").setLevel(noisy_level)
    logging.captureWarnings(False)


def settings(tmp_path: Path, **changes) -> Settings:
    return Settings(data_dir=tmp_path / "data", web_secret_key=SECRET, **changes)


def log_text(s: Settings) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return (s.log_dir / LOG_FILE).read_text(encoding="utf-8")


def test_writes_text_lines_to_a_rotating_file_in_the_data_dir(tmp_path):
    s = settings(tmp_path)
    configure_logging(s, console=False)
    logging.getLogger("ibtrader.test").info("hello %s", "world")
    line = log_text(s).strip()
    assert line.endswith("INFO    ibtrader.test: hello world")
    assert line[:4].isdigit()  # starts with the time
    handler = next(h for h in logging.getLogger().handlers
                   if isinstance(h, logging.handlers.RotatingFileHandler))
    assert Path(handler.baseFilename) == tmp_path / "data" / "logs" / LOG_FILE
    assert (handler.maxBytes, handler.backupCount) == (MAX_BYTES, BACKUPS) == (5 * 2**20, 5)


def test_json_lines_parse_one_object_per_line(tmp_path):
    s = settings(tmp_path, log_format="json")
    configure_logging(s, console=False)
    log = logging.getLogger("ibtrader.test")
    log.warning("multi\nline")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("it failed")
    first, second = (json.loads(line) for line in log_text(s).splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "ibtrader.test"
    assert first["msg"] == "multi\nline"
    assert first["ts"].startswith("20") and first["ts"].endswith("+00:00")
    assert "exc_info" not in first
    assert second["msg"] == "it failed"
    assert "RuntimeError: boom" in second["exc_info"]


def test_secret_never_reaches_the_file(tmp_path):
    s = settings(tmp_path)
    configure_logging(s, console=False)
    log = logging.getLogger("ibtrader.deep.child")
    log.info(f"direct {SECRET}")
    log.info("in args %s and %r", SECRET, {"key": SECRET})
    try:
        raise ValueError(f"bad credentials {SECRET}")
    except ValueError:
        log.exception("failed")
    log.error("with stack", stack_info=True, extra={})
    text = log_text(s)
    assert SECRET not in text
    assert text.count(MASK) >= 4


def test_secret_never_reaches_json_lines_either(tmp_path):
    s = settings(tmp_path, log_format="json")
    configure_logging(s, console=False)
    try:
        raise ValueError(SECRET)
    except ValueError:
        logging.getLogger("x").exception("%s", SECRET)
    assert SECRET not in log_text(s)


def test_secret_is_redacted_on_the_console_too(tmp_path, capsys):
    configure_logging(settings(tmp_path), console=True)
    logging.getLogger("ibtrader.test").warning("key is %s", SECRET)
    err = capsys.readouterr().err
    assert "key is ********" in err and SECRET not in err


@pytest.mark.parametrize(("text", "expected"), [
    ("GET /x?token=abc123&b=2", "GET /x?token=********&b=2"),
    ("login password=pa55 user=me", "login password=******** user=me"),
    ('{"api_token": "abc", "n": 1}', '{"api_token": ********, "n": 1}'),
    ("X-API-Key: abcdef", "X-API-Key: ********"),
    ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer ********"),
    ("http://admin:pw@minio:9000/bucket", "http://admin:********@minio:9000/bucket"),
    ("nothing secret here: port=4002", "nothing secret here: port=4002"),
])
def test_credential_looking_text_is_masked(text, expected):
    assert SecretRedactingFilter().redact(text) == expected


def test_a_bad_format_string_does_not_raise_from_the_filter(tmp_path):
    s = settings(tmp_path)
    configure_logging(s, console=False)
    logging.getLogger("x").info("%d items", SECRET)
    assert SECRET not in log_text(s)


def test_configuring_twice_does_not_duplicate_handlers(tmp_path):
    s = settings(tmp_path)
    configure_logging(s, console=True)
    before = len(logging.getLogger().handlers)
    configure_logging(s, console=True)
    assert len(logging.getLogger().handlers) == before
    logging.getLogger("ibtrader.test").info("once")
    assert log_text(s).count("once") == 1
    for handler in logging.getLogger().handlers:
        assert sum(isinstance(f, SecretRedactingFilter) for f in handler.filters) == 1


def test_levels_for_file_console_and_noisy_libraries(tmp_path, capsys):
    s = settings(tmp_path, log_level="WARNING")
    configure_logging(s, console=True, console_level="ERROR")
    log = logging.getLogger("ibtrader.test")
    log.info("not logged")
    log.warning("file only")
    assert "file only" in log_text(s) and "not logged" not in log_text(s)
    assert "file only" not in capsys.readouterr().err
    assert logging.getLogger("ib_async").level == logging.WARNING
    configure_logging(settings(tmp_path, log_level="DEBUG"), console=False)
    assert logging.getLogger("ib_async").getEffectiveLevel() == logging.DEBUG
    with pytest.raises(ValueError, match="console_level"):
        configure_logging(s, console_level="LOUD")


def test_broker_errors_ib_async_logs_itself_reach_the_file_not_the_console(tmp_path, capsys):
    """The adapter reports broker errors in the app's words; ib_async's own line for the
    same error would say it twice on the console."""
    s = settings(tmp_path)
    configure_logging(s, console=True, console_level="WARNING")
    logging.getLogger("ib_async.wrapper").error("Error 200, reqId 6: No security definition")
    logging.getLogger("ibtrader.services").warning("NOSUCH is not subscribed")
    err = capsys.readouterr().err
    assert "NOSUCH is not subscribed" in err and "Error 200" not in err
    assert "Error 200, reqId 6" in log_text(s)
