"""Backtests as jobs: start one (202), poll its status, fetch its result once done.

The jobs run in other processes (`ibtrader.backtest.jobs.BacktestJobs`, kept in the web
context): a CPU-bound backtest in the server's process would slow every API answer. Its
methods are quick, so the views call them directly; nothing here touches the engine. A
body is checked by `ibtrader.backtest.job_input.job_from_json`, every bad field named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, jsonify, url_for

from ibtrader.backtest.job_input import JobInputError, job_from_json
from ibtrader.backtest.jobs import JobNotDone
from ibtrader.web.api import blueprint
from ibtrader.web.api.inputs import FieldErrors, json_object, not_found
from ibtrader.web.context import web_context
from ibtrader.web.errors import ApiError


def backtest_data_folder(settings: Any) -> Path:
    """Where CSV files for API backtests live: the API reads no file outside it."""
    return Path(settings.data_dir) / "backtest-data"


def _jobs() -> Any:
    jobs = web_context().jobs
    if jobs is None:
        raise ApiError(503, "backtests_unavailable", "backtests are not available in this "
                       "server (no job runner)", headers={"Retry-After": "30"})
    return jobs


@blueprint.post("/backtests")
def start_backtest() -> tuple[Response, int]:
    jobs = _jobs()
    body = json_object(None)  # job_from_json names every bad or unknown field
    try:
        job = job_from_json(body, csv_folder=backtest_data_folder(web_context().settings))
    except JobInputError as exc:
        raise FieldErrors("invalid_field", str(exc),
                          [("invalid_field", f"{f}: {m}", f) for f, m in exc.problems]) from None
    job_id = jobs.start(job)
    response = jsonify({"id": job_id, "status": jobs.status(job_id)["state"]})
    response.headers["Location"] = url_for("api.backtest_status", job_id=job_id)
    return response, 202


def _status(job_id: str) -> dict[str, Any]:
    try:
        return _jobs().status(job_id)
    except KeyError:
        raise not_found("backtest", job_id) from None


@blueprint.get("/backtests/<job_id>")
def backtest_status(job_id: str) -> Response:
    return jsonify(_status(job_id))


@blueprint.get("/backtests/<job_id>/result")
def backtest_result(job_id: str) -> Response:
    status = _status(job_id)
    if status["state"] != "done":
        raise ApiError(409, "not_done", f"backtest {job_id} is {status['state']}"
                       + (f": {status['error']}" if status.get("error") else ""))
    try:
        return jsonify(_jobs().result(job_id))
    except JobNotDone as exc:  # it moved since the status (a cancel, say)
        raise ApiError(409, "not_done", str(exc)) from None
