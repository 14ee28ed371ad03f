"""REST API v1 backtests: a job started over the API runs in a worker process; its status
is polled and its result fetched once done."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from ibtrader.backtest.jobs import BacktestJobs
from ibtrader.web.app import create_app
from ibtrader.web.context import WebContext
from ibtrader.web.credentials import CredentialStore, store_path
from tests.web.harness import web_settings

END = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
JOB = {"strategy": "sma_cross", "params": {"fast": 5, "slow": 20}, "symbol": "AAPL",
       "bar_size": "1 hour", "start": (END - dt.timedelta(days=30)).isoformat(),
       "end": END.isoformat()}


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    settings = web_settings(tmp_path_factory.mktemp("api_backtests"))
    store = CredentialStore(store_path(settings.data_dir))
    jobs = BacktestJobs(settings)
    jobs.warm()
    context = WebContext(settings, store, jobs=jobs)
    app = create_app(context)
    headers = {"X-API-Key": store.create_key("tests").key}
    yield app.test_client(), headers, context
    jobs.close()
    store.close()


def test_a_backtest_runs_as_a_job_and_its_result_is_fetched_once_done(web):
    client, headers, _ = web
    r = client.post("/api/v1/backtests", json=JOB, headers=headers)
    assert r.status_code == 202, r.get_json()
    job_id = r.get_json()["id"]
    assert r.get_json()["status"] in ("queued", "running")
    assert r.headers["Location"].endswith(f"/api/v1/backtests/{job_id}")
    early = client.get(f"/api/v1/backtests/{job_id}/result", headers=headers)
    if early.status_code != 200:  # a worker takes ~1 s to start: not done yet
        assert (early.status_code, early.get_json()["error"]["code"]) == (409, "not_done")
    deadline = time.monotonic() + 60
    while (status := client.get(f"/api/v1/backtests/{job_id}", headers=headers).get_json()
           )["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status["state"] == "done", status
    assert status["job"]["strategy"] == "sma_cross"
    result = client.get(f"/api/v1/backtests/{job_id}/result", headers=headers).get_json()
    assert set(result) >= {"stats", "trades", "equity"}
    assert result["equity"] and all(set(p) == {"time", "value"} for p in result["equity"])


def test_bad_jobs_name_every_field(web):
    client, headers, _ = web
    r = client.post("/api/v1/backtests", json={**JOB, "strategy": "nope", "cash": -1},
                    headers=headers)
    error = r.get_json()["error"]
    assert (r.status_code, error["field"]) == (422, "strategy")
    assert {p["field"] for p in error["problems"]} >= {"strategy", "cash"}
    assert client.post("/api/v1/backtests", json=[JOB], headers=headers).status_code == 400


def test_unknown_jobs_are_404_and_no_runner_is_503(web):
    client, headers, context = web
    assert client.get("/api/v1/backtests/nope", headers=headers).status_code == 404
    assert client.get("/api/v1/backtests/nope/result", headers=headers).status_code == 404
    jobs, context.jobs = context.jobs, None
    try:
        r = client.post("/api/v1/backtests", json=JOB, headers=headers)
        assert (r.status_code, r.get_json()["error"]["code"]) == (503, "backtests_unavailable")
    finally:
        context.jobs = jobs


def test_a_csv_backtest_reads_only_files_of_the_backtest_data_folder(web, tmp_path):
    client, headers, context = web
    outside = tmp_path / "secret.csv"
    outside.write_text("time,open,high,low,close,volume\n")
    body = {"strategy": "sma_cross", "csv": str(outside)}
    r = client.post("/api/v1/backtests", json=body, headers=headers)
    assert r.status_code == 422
    assert r.get_json()["error"]["problems"][0]["field"] == "csv"
    assert "backtest-data" in r.get_json()["error"]["problems"][0]["message"]
    folder = context.settings.data_dir / "backtest-data"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["time,open,high,low,close,volume"] + [
        f"{1_700_000_000 + 3600 * i},{100 + i % 7},{101 + i % 7},{99 + i % 7},{100 + i % 7},1000"
        for i in range(200)]
    (folder / "bars.csv").write_text("\n".join(lines) + "\n")
    r = client.post("/api/v1/backtests", json={"strategy": "sma_cross", "csv": "bars.csv"},
                    headers=headers)
    assert r.status_code == 202, r.get_json()
    job_id = r.get_json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/v1/backtests/{job_id}", headers=headers).get_json()["state"] \
            not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status = client.get(f"/api/v1/backtests/{job_id}", headers=headers).get_json()
    assert status["state"] == "done", status
