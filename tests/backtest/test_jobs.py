"""Backtests as jobs in worker processes: the same results as a run in the test's own
process, progress while they run, cancel, errors said plainly, results as strict JSON.
One pool for the module (a spawned worker takes ~1 s to import its modules)."""

from __future__ import annotations

import datetime as dt
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ibtrader.backtest.jobs as jobs_module
from ibtrader.backtest.jobs import (
    BacktestJob,
    BacktestJobs,
    JobNotDone,
    result_json,
    run_backtest,
)
from ibtrader.config import Settings

DAY = 86_400.0
END = dt.datetime(2024, 6, 1, tzinfo=dt.UTC).timestamp()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), watchlist=("AAPL",),
                    strategies=())


@pytest.fixture(scope="module")
def jobs(settings: Settings) -> Iterator[BacktestJobs]:
    pool = BacktestJobs(settings)
    pool.warm()
    yield pool
    pool.close()


def hourly(days: float = 60, **values: Any) -> BacktestJob:
    return BacktestJob("sma_cross", {"fast": 5, "slow": 20}, symbol="AAPL",
                       bar_size="1 hour", start=END - days * DAY, end=END, **values)


def minutes(days: float) -> BacktestJob:
    return BacktestJob("sma_cross", {"fast": 5, "slow": 20}, symbol="AAPL",
                       bar_size="1 min", start=END - days * DAY, end=END)


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def finished(jobs: BacktestJobs, job_id: str, timeout: float = 20.0) -> dict[str, Any]:
    wait_for(lambda: jobs.status(job_id)["state"] in ("done", "failed", "cancelled"), timeout)
    return jobs.status(job_id)


def children() -> set[int]:
    return {p.pid for p in multiprocessing.active_children()}


def swing_csv(path: Path, rows: int = 400) -> Path:
    start = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    close = 100 + 10 * np.sin(np.arange(rows) / 15)
    lines = ["time,open,high,low,close,volume"] + [
        f"{start + dt.timedelta(hours=h):%Y-%m-%d %H:%M:%S},{c:.2f},{c + 0.5:.2f},"
        f"{c - 0.5:.2f},{c:.2f},1000" for h, c in enumerate(close)]
    path.write_text("\n".join(lines))
    return path


def test_a_job_runs_in_another_process_with_the_same_results_as_inline(
        jobs: BacktestJobs, settings: Settings) -> None:
    job = hourly()
    job_id = jobs.start(job)
    status = finished(jobs, job_id)
    assert status["state"] == "done" and status["error"] is None
    assert status["pid"] not in (None, os.getpid())
    assert status["created"] <= status["started"] <= status["finished"]
    assert status["job"]["symbol"] == "AAPL" and status["job"]["params"] == {"fast": 5,
                                                                              "slow": 20}

    result = jobs.result(job_id)
    inline = result_json(run_backtest(job, settings))
    assert result["stats"] == inline["stats"] and result["trades"] == inline["trades"]
    assert result["stats"]["number_of_trades"] > 0
    assert len(result["trades"]) == result["stats"]["number_of_trades"]
    assert status["progress"] == {"done": result["bars"], "total": result["bars"]}
    # strict JSON: no NaN anywhere; the curve ends at the final equity
    json.dumps(result, allow_nan=False)
    assert result["equity"][-1]["value"] == pytest.approx(result["stats"]["final_equity"])


def test_progress_moves_while_it_runs_and_never_after(jobs: BacktestJobs) -> None:
    seen: list[dict[str, Any]] = []
    job_id = jobs.start(minutes(20), listener=seen.append)
    status = finished(jobs, job_id)
    assert status["state"] == "done"
    states = [s["state"] for s in seen]
    assert states[-1] == "done" and "done" not in states[:-1]
    done = [s["progress"]["done"] for s in seen if s["state"] == "running"]
    total = status["progress"]["total"]
    assert done == sorted(done) and any(0 < d < total for d in done)
    assert len(done) <= 110  # one report per percent, not one per bar


def test_a_running_job_is_cancelled_at_its_next_progress_report(
        jobs: BacktestJobs) -> None:
    job_id = jobs.start(minutes(120))  # ~170,000 bars: seconds of work
    wait_for(lambda: jobs.status(job_id)["progress"]["done"] > 0)
    pid = jobs.status(job_id)["pid"]
    assert jobs.cancel(job_id)
    status = finished(jobs, job_id, timeout=5)
    assert status["state"] == "cancelled"
    assert status["progress"]["done"] < status["progress"]["total"]
    with pytest.raises(JobNotDone, match="was cancelled"):
        jobs.result(job_id)
    assert not jobs.cancel(job_id)  # already over
    again = jobs.start(hourly(10))  # the same worker, still in the pool
    assert finished(jobs, again)["state"] == "done" and jobs.status(again)["pid"] == pid


def test_a_waiting_job_is_cancelled_at_once_and_the_next_one_still_runs(
        jobs: BacktestJobs) -> None:
    first = jobs.start(minutes(60))
    waiting = jobs.start(minutes(60))
    last = jobs.start(hourly(10))
    assert jobs.status(waiting)["state"] == "queued"
    assert jobs.cancel(waiting) and jobs.status(waiting)["state"] == "cancelled"
    jobs.cancel(first)
    assert finished(jobs, last)["state"] == "done"
    assert jobs.status(waiting)["started"] is None


def test_a_job_stuck_loading_a_long_history_is_interrupted_and_its_worker_stays(
        jobs: BacktestJobs) -> None:
    stuck = jobs.start(minutes(3 * 365))  # ~1.5 million bars generated before any progress
    behind = jobs.start(hourly(10))
    wait_for(lambda: jobs.status(stuck)["state"] == "running")
    worker = jobs.status(stuck)["pid"]
    asked = time.monotonic()
    jobs.cancel(stuck)
    assert finished(jobs, stuck, timeout=5)["state"] == "cancelled"
    assert time.monotonic() - asked < 3
    status = finished(jobs, behind)
    assert status["state"] == "done" and status["pid"] == worker


def test_without_a_stop_signal_the_stuck_worker_is_ended_and_the_rest_still_run(
        jobs: BacktestJobs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs_module, "STOP_SIGNAL", None)  # as on Windows
    stuck = jobs.start(minutes(3 * 365))
    behind = jobs.start(hourly(10))
    wait_for(lambda: jobs.status(stuck)["state"] == "running")
    worker = jobs.status(stuck)["pid"]
    jobs.cancel(stuck)
    assert finished(jobs, stuck, timeout=5)["state"] == "cancelled"
    wait_for(lambda: worker not in children(), timeout=5)
    status = finished(jobs, behind)  # handed to a fresh pool
    assert status["state"] == "done" and status["pid"] != worker


def test_a_failing_job_reports_its_error(jobs: BacktestJobs, tmp_path: Path) -> None:
    unknown = jobs.start(BacktestJob("sma_cross", symbol="NOPE", start=END - DAY, end=END))
    broken = tmp_path / "broken.csv"
    broken.write_text("time,open,high,low,close,volume\n2024-01-02 10:00:00,1,2,0.5,x,10\n")
    bad_csv = jobs.start(BacktestJob("sma_cross", csv=broken))
    status = finished(jobs, unknown)
    assert status["state"] == "failed" and "no symbol 'NOPE'" in status["error"]
    with pytest.raises(JobNotDone, match="failed: the simulator has no symbol 'NOPE'"):
        jobs.result(unknown)
    status = finished(jobs, bad_csv)
    assert status["state"] == "failed" and "line 2" in status["error"]


def test_a_csv_job_and_old_jobs_forgotten_beyond_keep(jobs: BacktestJobs,
                                                     tmp_path: Path) -> None:
    path = swing_csv(tmp_path / "swing.csv")
    keep, jobs.keep = jobs.keep, 2
    try:
        ids = [jobs.start(BacktestJob("sma_cross", {"fast": 5, "slow": 10}, csv=path))
               for _ in range(3)]
        for job_id in ids[1:]:
            assert finished(jobs, job_id)["state"] == "done"
        assert jobs.result(ids[-1])["bars"] == 400
        with pytest.raises(KeyError, match="no backtest job"):
            jobs.status(ids[0])
    finally:
        jobs.keep = keep


def test_unknown_ids_and_a_result_asked_too_early(jobs: BacktestJobs) -> None:
    for call in (jobs.status, jobs.result, jobs.cancel):
        with pytest.raises(KeyError):
            call("no-such-job")
    job_id = jobs.start(minutes(30))
    with pytest.raises(JobNotDone, match=r"waiting|running"):
        jobs.result(job_id)
    jobs.cancel(job_id)


def test_a_result_kept_as_objects_for_the_desktop(jobs: BacktestJobs) -> None:
    job_id = jobs.start(hourly(), keep_result=True)
    assert finished(jobs, job_id)["state"] == "done"
    report = jobs.report(job_id).report
    assert report.symbol == "AAPL"
    assert report.stats.trades == jobs.result(job_id)["stats"]["number_of_trades"]


def test_closing_ends_the_workers_and_refuses_new_jobs(settings: Settings) -> None:
    pool = BacktestJobs(settings)
    job_id = pool.start(minutes(3 * 365))
    wait_for(lambda: pool.status(job_id)["state"] == "running")
    worker = pool.status(job_id)["pid"]
    assert worker in children()
    pool.close()
    assert pool.status(job_id)["state"] == "cancelled"
    wait_for(lambda: worker not in children(), timeout=5)
    with pytest.raises(RuntimeError, match="closed"):
        pool.start(hourly())


def test_a_long_equity_curve_is_thinned_but_keeps_its_deepest_point(
        settings: Settings) -> None:
    result = run_backtest(minutes(10), settings)
    n = len(result.equity)
    assert n > 2000
    dip = n // 3
    result.equity[dip] = result.equity.min() - 500  # one bar's crash
    curve = result_json(result)["equity"]
    assert len(curve) <= 2000
    times = [p["time"] for p in curve]
    assert times == sorted(times)
    assert curve[0]["time"] == result.times[0] and curve[-1]["time"] == result.times[-1]
    assert min(p["value"] for p in curve) == result.equity[dip]
    assert not any(math.isnan(p["value"]) for p in curve)
