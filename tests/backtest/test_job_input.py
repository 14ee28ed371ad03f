"""A backtest job from JSON (the REST API's body): every bad field is named, with what is
allowed, before a worker is spent on it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from ibtrader.backtest.jobs import JobInputError, job_from_json

GOOD = {"strategy": "sma_cross", "params": {"fast": 5, "slow": 20}, "symbol": "aapl",
        "bar_size": "1 hour", "start": "2024-01-01", "end": "2024-03-01T00:00:00Z"}


def refused(body: Any) -> JobInputError:
    with pytest.raises(JobInputError) as caught:
        job_from_json(body)
    return caught.value


def test_a_good_body_becomes_the_job() -> None:
    job = job_from_json({**GOOD, "cash": 25_000, "commission": "0.1%", "fill": "close",
                         "sizing": "all-in", "risk_pct": 2})
    assert (job.strategy, dict(job.params), job.symbol, job.bar_size) == (
        "sma_cross", {"fast": 5, "slow": 20}, "AAPL", "1 hour")
    assert job.start == dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()
    assert job.end == dt.datetime(2024, 3, 1, tzinfo=dt.UTC).timestamp()
    assert (job.cash, job.commission, job.fill, job.sizing, job.risk_pct) == (
        25_000.0, "0.1%", "close", "all-in", 2.0)
    defaults = job_from_json({"strategy": "rsi_reversion", "symbol": "MSFT",
                              "start": 1_700_000_000, "end": 1_700_600_000})
    assert defaults.bar_size == "" and defaults.fill == "next-open" and defaults.cash == 10_000
    assert defaults.start == 1_700_000_000.0


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"strategy": "moon"}, "strategy", "known: bollinger_breakout"),
    ({"strategy": None}, "strategy", "name a strategy"),
    ({"params": {"fast": 0}}, "params.fast", "an integer in [1, 1000], got 0"),
    ({"params": {"fast": 2.5}}, "params.fast", "an integer"),
    ({"params": {"fats": 5}}, "params.fats", "its parameters: fast, slow, kind"),
    ({"params": {"kind": "wma"}}, "params.kind", "one of sma, ema"),
    ({"params": {"fast": 30, "slow": 10}}, "params", "fast must be below slow"),
    ({"params": [5, 20]}, "params", "JSON object"),
    ({"symbol": "NOPE"}, "symbol", "the simulator has no symbol 'NOPE'"),
    ({"symbol": 7}, "symbol", "text such as"),
    ({"csv": "/tmp/bars.csv"}, "symbol", "not both"),
    ({"bar_size": "7 hours"}, "bar_size", "not a bar size IB knows"),
    ({"start": "last tuesday"}, "start", "ISO-8601"),
    ({"end": -5}, "end", "finite number >= 0"),
    ({"start": "2024-03-01", "end": "2024-01-01"}, "end", "after the start"),
    ({"end": None}, "end", "needs an end"),
    ({"bar_size": "1 min", "start": "2000-01-01"}, "start", "at most 5,000,000"),
    ({"cash": 0}, "cash", "above 0"),
    ({"cash": "lots"}, "cash", "above 0"),
    ({"commission": "15%"}, "commission", "a percent of the traded value in [0, 10)"),
    ({"commission": True}, "commission", "0, ib"),
    ({"fill": "tomorrow"}, "fill", "one of next-open, close"),
    ({"sizing": "half"}, "sizing", "one of risk, all-in"),
    ({"risk_pct": 150}, "risk_pct", "in (0, 100]"),
    ({"speed": "fast"}, "speed", "unknown field"),
])
def test_a_bad_field_is_named(change: dict[str, Any], field: str, words: str) -> None:
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    error = refused(body)
    assert error.field == field and words in error.message
    assert error.problems[0] == (field, error.message)


def test_every_bad_field_is_listed_in_one_go() -> None:
    error = refused({**GOOD, "params": {"fast": -1}, "cash": -5, "fill": "now"})
    assert [f for f, _ in error.problems] == ["params.fast", "cash", "fill"]


def test_a_body_that_is_not_an_object() -> None:
    assert refused(["sma_cross"]).field == "body"


def test_csv_files_must_exist_and_take_no_bar_size(tmp_path: Path) -> None:
    base = {"strategy": "sma_cross"}
    assert "no such file" in refused({**base, "csv": str(tmp_path / "gone.csv")}).message
    assert refused({**base, "csv": str(tmp_path / "bars.txt")}).field == "csv"
    path = tmp_path / "bars.csv"
    path.write_text("time,open,high,low,close,volume\n")
    assert job_from_json({**base, "csv": str(path)}).csv == path
    error = refused({**base, "csv": str(path), "bar_size": "1 hour"})
    assert error.field == "bar_size" and "used as they are" in error.message
