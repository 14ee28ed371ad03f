from __future__ import annotations

import json
import re
import sqlite3

import pytest

from ibtrader.sim.account import PaperAccount
from ibtrader.sim.store import SCHEMA_VERSION, SchemaMismatch, SimStore
from tests.sim.fakes import FUTURE, STOCK, engine, order, quote


@pytest.fixture
def path(tmp_path):
    return tmp_path / "state" / "sim.sqlite"


def test_schema_is_created_with_its_version_in_wal_mode(path):
    store = SimStore(path)
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_newer_schema_is_refused(path):
    SimStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(SchemaMismatch):
        SimStore(path)


def test_account_round_trip(path):
    account = PaperAccount("DU1", cash=50_000.0)
    account.apply_fill(STOCK, "BOT", 100, 50.0, 0.35)
    account.apply_fill(STOCK, "SLD", 40, 55.0, 0.35)
    account.apply_fill(FUTURE, "SLD", 2, 5000.0, 1.70)
    account.mark(FUTURE.con_id, 4990.0)
    account.start_day(86_400.0)
    store = SimStore(path)
    store.save_account(account)
    store.close()

    loaded = SimStore(path).load_account("DU1")
    assert loaded is not None
    assert loaded.cash == pytest.approx(account.cash)
    assert loaded.day_started == 86_400.0
    assert loaded.positions == account.positions
    assert loaded.values() == pytest.approx(account.values())
    assert loaded.pnl() == pytest.approx(account.pnl())


def test_unknown_account_loads_as_none():
    assert SimStore(None).load_account("DU404") is None


def test_open_orders_round_trip_with_their_wire_json(path):
    eng = engine()
    resting = order("BUY", 10, "LMT", lmt_price=90.0, tif="GTC", order_ref="keep")
    trail = order("SELL", 5, "TRAIL", trailing_percent=2.0)
    eng.place(resting, quote(1.0, 99.99, 100.01), 1.0)
    eng.place(trail, quote(1.0, 99.99, 100.01), 1.0)
    store = SimStore(path)
    store.save_order(resting, json.dumps({"orderRef": "keep"}))
    store.save_order(trail, "{}")
    resting.lmt_price = 91.0  # an update replaces the row, keeping its place
    store.save_order(resting, json.dumps({"orderRef": "keep", "lmtPrice": 91.0}))
    store.close()

    store = SimStore(path)
    loaded = store.load_open_orders()
    assert [o.key for o, _ in loaded] == [resting.key, trail.key]
    (first, wire), (second, _) = loaded
    assert first == resting and json.loads(wire)["lmtPrice"] == 91.0
    assert second.trail_stop_price == trail.trail_stop_price and second.status == "PreSubmitted"
    store.remove_order(first)
    assert [o.key for o, _ in store.load_open_orders()] == [trail.key]


def test_executions_and_completed_orders(path):
    eng = engine()
    events = eng.place(order("BUY", 100, order_ref="x"), quote(5.0, 99.99, 100.01), 5.0)
    execution = events[-1].execution
    filled = events[-1].order
    store = SimStore(path)
    store.add_execution(execution)
    store.add_completed(filled, '{"w": 1}', "20240102 10:00:05 UTC")
    store.close()

    store = SimStore(path)
    assert store.executions() == [execution]
    assert store.executions(since=5.0) == [execution]
    assert store.executions(since=5.5) == []
    [(order_back, wire, when)] = store.completed_orders()
    assert order_back == filled and order_back.status == "Filled"
    assert (wire, when) == ('{"w": 1}', "20240102 10:00:05 UTC")


def test_order_ids_rise_above_every_id_seen_and_survive_a_reopen(path):
    store = SimStore(path)
    assert store.next_order_id(5) == 1
    store.bump_order_id(5, 41)
    store.bump_order_id(5, 12)
    assert store.next_order_id(5) == 42
    assert store.next_order_id(6) == 1
    store.save_order(order(order_id=41, client_id=5), "{}")
    store.close()

    store = SimStore(path)
    assert store.next_order_id(5) == 42
    assert store.was_used(5, 41) and not store.was_used(5, 12)


def test_perm_and_exec_ids_keep_counting_across_reopens(path):
    store = SimStore(path)
    perms = [store.next_perm_id(), store.next_perm_id()]
    execs = [store.next_exec_id(), store.next_exec_id()]
    store.close()
    store = SimStore(path)
    perms.append(store.next_perm_id())
    execs.append(store.next_exec_id())
    assert perms == sorted(set(perms)) and len(set(execs)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{8}\.[0-9a-f]{8}\.01\.01", e) for e in execs)
    assert execs[0].split(".")[0] != execs[2].split(".")[0]  # a new run prefix


def test_in_memory_store_works_the_same():
    store = SimStore(None)
    store.bump_order_id(1, 7)
    assert store.next_order_id(1) == 8
    assert store.next_perm_id() < store.next_perm_id()


def test_an_engine_restarted_from_the_store_carries_on(path):
    eng = engine()
    eng.account.apply_fill(STOCK, "BOT", 10, 100.0, 0.0)
    stop = order("SELL", 10, "STP", aux_price=95.0, tif="GTC")
    eng.place(stop, quote(1.0, 99.99, 100.01), 1.0)
    store = SimStore(path)
    store.save_account(eng.account)
    store.save_order(stop, "{}")
    store.close()

    store = SimStore(path)
    fresh = engine()
    fresh.account = store.load_account("DU1")
    fresh.restore(o for o, _ in store.load_open_orders())
    events = fresh.on_quote(STOCK.con_id, quote(2.0, 94.0, 94.02, last=94.01), 2.0)
    assert [type(e).__name__ for e in events] == ["OrderTriggered", "OrderFilled"]
    assert fresh.account.positions[STOCK.con_id].quantity == 0
