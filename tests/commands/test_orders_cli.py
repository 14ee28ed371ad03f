"""`ibtrader orders` end to end: each command in its own process with the simulator started
in-process (its state file and the journal carry orders from one run to the next), the
app's own validation and risk limits, exit statuses and --json documents."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from ibtrader.commands.orders_format import ORDER_KEYS, order_dict, plain, position_dict
from ibtrader.core.orders.lifecycle import OrderState, new_order
from ibtrader.core.orders.request import parse_request

EXIT_BROKER, EXIT_INPUT, EXIT_REFUSED, EXIT_NOT_FILLED = 1, 2, 3, 4


def _start(data: Path, args: tuple[str, ...], env: dict[str, str]) -> subprocess.Popen[str]:
    environment = {**os.environ, "IBTRADER_DATA_DIR": str(data), "IBTRADER_SIM_SEED": "7",
                   **{f"IBTRADER_{k.upper()}": v for k, v in env.items()}}
    return subprocess.Popen([sys.executable, "-m", "ibtrader", "orders", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment)


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=90)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def orders(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """One `ibtrader orders` run with its own data folder (simulator state, journal)."""
    return _finish(_start(data, args, env))


def orders_at_once(*runs: tuple[Path, tuple[str, ...], dict[str, str]]
                   ) -> list[subprocess.CompletedProcess[str]]:
    """Independent runs (each its own data folder) side by side, to keep the file fast."""
    return [_finish(proc) for proc in [_start(*run) for run in runs]]


def as_json(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --- bad input: refused before anything connects ------------------------------------------

BAD_INPUT = [
    (("place", "AAPL", "buy", "0"), "quantity: must be above 0"),
    (("place", "AAPL", "hold", "10"), "side: 'hold' is not one of buy, sell"),
    (("place", "AAPL", "buy", "10", "--type", "moc"), "type: 'moc' is not one of"),
    (("place", "AAPL", "buy", "10", "--type", "lmt", "--limit", "abc"),
     "limit: 'abc' is not a number"),
    (("place", "AAPL", "sell", "10", "--type", "trail", "--trail", "150%"),
     "trail: a percent trail must be between 0 and 100"),
    (("place", "AAPL", "buy", "10", "--type", "lmt", "--policy", "best"),
     "unknown price policy 'best'"),
    (("place", "AAPL", "buy", "10", "--wait", "-1"), "--wait"),
    (("place", "AAPL", "buy", "1x", "--json"), "quantity: '1x' is not a number"),
]


def test_bad_input_names_the_field_and_exits_2_without_connecting(tmp_path):
    runs = orders_at_once(*[(tmp_path / str(i), args, {}) for i, (args, _) in
                            enumerate(BAD_INPUT)])
    for i, (done, (args, reason)) in enumerate(zip(runs, BAD_INPUT, strict=True)):
        assert done.returncode == EXIT_INPUT, args
        assert reason in done.stderr, (args, done.stderr)
        assert not (tmp_path / str(i) / "sim").exists()  # no simulator was started
        if "--json" in args:
            [problem] = json.loads(done.stdout)["problems"]
            assert (problem["code"], problem["field"]) == ("bad_input", "quantity")
        else:
            assert done.stdout == ""


# --- the app's validation and risk limits ---------------------------------------------------

def test_a_risk_refusal_prints_every_reason_and_exits_3(tmp_path):
    done = orders(tmp_path, "place", "AAPL", "buy", "500", "--json", max_order_quantity="100",
                  max_order_value="10000")
    assert done.returncode == EXIT_REFUSED, done.stderr
    lines = [line for line in done.stderr.splitlines() if "refused" in line]
    assert any("(max_order_quantity)" in line and "500" in line for line in lines)
    assert any("(max_order_value)" in line for line in lines)
    assert "WARNING" not in done.stderr  # each reason once, in the command's words
    document = json.loads(done.stdout)  # and, for a script, the same as JSON
    assert document["key"].startswith("ibt-")
    assert {"max_order_quantity", "max_order_value"} <= {p["code"] for p in
                                                         document["problems"]}
    listed = as_json(orders(tmp_path, "list", "--json"))  # nothing was placed
    assert listed["orders"] == []


def test_validation_refusals_exit_3_with_each_problem(tmp_path):
    no_limit, off_grid, unknown = orders_at_once(
        (tmp_path / "a", ("place", "AAPL", "buy", "10", "--type", "lmt"), {}),
        (tmp_path / "b", ("place", "AAPL", "buy", "10", "--type", "stp", "--stop", "100.005"),
         {}),
        (tmp_path / "c", ("place", "NOSUCH", "buy", "1"), {}))
    assert no_limit.returncode == EXIT_REFUSED, no_limit.stderr
    assert "refused (" in no_limit.stderr and "limit" in no_limit.stderr
    assert off_grid.returncode == EXIT_REFUSED, off_grid.stderr
    assert "100.005" in off_grid.stderr and "tick" in off_grid.stderr
    assert unknown.returncode == EXIT_REFUSED, unknown.stderr
    assert "refused (unknown_contract)" in unknown.stderr and "NOSUCH" in unknown.stderr


def test_no_broker_exits_1(tmp_path):
    done = orders(tmp_path, "list", "--ib-port", "1")
    assert done.returncode == EXIT_BROKER
    assert "127.0.0.1:1" in done.stderr and done.stdout == ""


# --- orders across processes ----------------------------------------------------------------
# Each scenario is a chain of runs on one data folder; the two chains run side by side (in
# threads, each its own folder) so that the file stays fast, and each test reports its own.

def gtc_limit_across_runs(tmp_path: Path) -> None:
    placed = orders(tmp_path, "place", "AAPL", "buy", "10", "--type", "lmt", "--policy",
                    "last:-400", "--tif", "gtc", "--wait", "1", "--json")
    assert placed.returncode == EXIT_NOT_FILLED and "is working, filled 0 of 10" in placed.stderr
    order = json.loads(placed.stdout)["order"]
    assert set(order) == set(ORDER_KEYS)
    assert order["state"] == "working" and order["tif"] == "gtc" and order["open"]
    assert order["limit"] is not None and order["filled"] == 0
    key = order["key"]

    listed = as_json(orders(tmp_path, "list", "--open", "--json"))["orders"]
    assert [(o["key"], o["state"], o["limit"]) for o in listed] == \
        [(key, "working", order["limit"])]
    text = orders(tmp_path, "list")
    assert key in text.stdout and "working" in text.stdout and "GTC" in text.stdout

    cancelled = as_json(orders(tmp_path, "cancel", key, "--json"))["order"]
    assert cancelled["key"] == key and cancelled["state"] == "cancelled"

    everything = as_json(orders(tmp_path, "list", "--json"))["orders"]
    assert [(o["key"], o["state"], o["open"]) for o in everything] == \
        [(key, "cancelled", False)]
    again = orders(tmp_path, "cancel", key)
    assert again.returncode == EXIT_REFUSED and "already cancelled" in again.stderr
    unknown = orders(tmp_path, "cancel", "ibt-nosuchorder")
    assert unknown.returncode == EXIT_INPUT and "no order 'ibt-nosuchorder'" in unknown.stderr


def fill_cancel_all_and_kill_switch(tmp_path: Path) -> None:
    bought = as_json(orders(tmp_path, "place", "MSFT", "buy", "7", "--wait", "20", "--json"))
    assert bought["order"]["state"] == "filled" and bought["order"]["filled"] == 7
    assert bought["order"]["avg_price"] > 0
    held = as_json(orders(tmp_path, "positions", "--json"))["positions"]
    assert {p["symbol"]: p["quantity"] for p in held}.get("MSFT") == 7

    for _ in range(2):  # two resting orders for cancel-all
        orders(tmp_path, "place", "MSFT", "sell", "1", "--type", "lmt", "--policy", "last:-400",
               "--tif", "gtc").check_returncode()
    swept = as_json(orders(tmp_path, "cancel-all", "--json"))
    assert len(swept["orders"]) == 2 and swept["still_open"] == []
    assert {o["state"] for o in swept["orders"]} == {"cancelled"}

    orders(tmp_path, "place", "MSFT", "sell", "1", "--type", "lmt", "--policy", "last:-400",
           "--tif", "gtc").check_returncode()
    killed = as_json(orders(tmp_path, "killswitch", "--flatten", "--json"))
    assert killed["still_open"] == []
    states = {o["source"]: o["state"] for o in killed["orders"]}
    assert states == {"cli": "cancelled", "killswitch": "filled"}
    assert {p["symbol"]: p["quantity"] for p in killed["positions"]}.get("MSFT", 0) == 0
    assert killed["report"]["positions_after"].get("MSFT", 0) == 0  # the broker's word


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[None]]]:
    with ThreadPoolExecutor(2) as pool:
        yield {f.__name__: pool.submit(f, tmp_path_factory.mktemp(f.__name__))
               for f in (gtc_limit_across_runs, fill_cancel_all_and_kill_switch)}


def test_a_gtc_limit_placed_in_one_run_is_listed_and_cancelled_by_later_runs(scenarios):
    scenarios["gtc_limit_across_runs"].result()


def test_market_fill_positions_cancel_all_and_the_kill_switch_that_flattens(scenarios):
    scenarios["fill_cancel_all_and_kill_switch"].result()


# --- the JSON shapes, without a broker ------------------------------------------------------

def test_order_json_has_every_key_and_no_nan():
    request = parse_request("aapl", "buy", "5", now=1_000.0, order_type="lmt", limit="190.5",
                            tif="gtc", take_profit="200", stop_loss="185")
    order, _ = new_order(request, 1_000.0)
    document = order_dict(order)
    assert list(document) == list(ORDER_KEYS)
    assert document["symbol"] == "AAPL" and document["state"] == OrderState.NEW.value
    assert document["avg_price"] is None  # NaN before any fill: null, not invalid JSON
    json.loads(json.dumps(document, allow_nan=False))


def test_plain_turns_nan_into_null_and_keeps_positions_readable():
    class Pos:
        symbol, quantity, avg_cost, realized_pnl = "ES", -2.0, 5000.25, math.nan

    assert position_dict(Pos()) == {"symbol": "ES", "quantity": -2.0, "avg_cost": 5000.25,
                                    "realized_pnl": None}
    assert plain({"a": (1.5, math.inf), "b": OrderState.FILLED}) == {"a": [1.5, None],
                                                                     "b": "filled"}
