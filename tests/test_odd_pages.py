"""Odd pages are asked for again before they are believed; a walk that cannot go on ends, and what it
fetched lands; a stored resume cursor the API refuses restarts the walk instead of failing it forever."""

import pytest

from sources.instantly import settings
from sources.instantly.endpoints import ENDPOINTS_BY_NAME
from sources.simulator import Fault, Simulator, World

from .conftest import SMALL_WORLD, duckdb_warehouse_for

LEADS_PATH = ENDPOINTS_BY_NAME["leads"].path
EMAILS_PATH = ENDPOINTS_BY_NAME["emails"].path
UNPACED_EMAILS = {"emails_requests_per_minute": 10_000}
TIME_KEYED_AND_CORE = ["campaigns", "accounts", "leads", "emails", "audit_logs", "lead_lists"]


def _sent_cursors(simulator: Simulator, path: str) -> list[str | None]:
    fields = [r.body if path == LEADS_PATH else r.query for r in simulator.requests_to(path)]
    return [f.get("starting_after") for f in fields]


def test_an_empty_page_that_still_carries_a_cursor_is_asked_again_and_the_walk_goes_on(
    duckdb_warehouse, simulator, world
):
    fault = simulator.faults.add(Fault(path=LEADS_PATH, kind="empty_page", times=1))
    result = duckdb_warehouse.sync(resources=["leads"])
    assert fault.fired == 1
    assert result.progress.of("leads").retries == 1
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))


def test_a_cursor_that_does_not_advance_once_is_asked_again_and_nothing_is_lost(
    duckdb_warehouse, simulator, world
):
    simulator.faults.add(Fault(path=LEADS_PATH, kind="stuck_cursor", times=1))
    result = duckdb_warehouse.sync(resources=["leads"])
    assert result.progress.of("leads").warnings == []
    ids = world.ids("leads")
    assert _sent_cursors(simulator, LEADS_PATH) == [None, ids[99], ids[99], ids[199]]
    assert duckdb_warehouse.query("select count(*), count(distinct id) from {ds}.leads") == [(230, 230)]


def test_a_cursor_that_never_advances_ends_the_walk_early_and_what_was_fetched_lands(
    duckdb_warehouse, simulator, world
):
    simulator.faults.add(Fault(path=LEADS_PATH, kind="stuck_cursor"))
    result = duckdb_warehouse.sync(resources=["leads"])
    stats = result.progress.of("leads")
    assert stats.failed is None
    assert len(stats.warnings) == 1 and "did not advance" in stats.warnings[0]
    assert len(simulator.requests_to(LEADS_PATH)) == 1 + 1 + settings.PAGE_REASKS
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads")[:200])
    assert "walk" not in duckdb_warehouse.state("leads")

    simulator.faults.clear()
    duckdb_warehouse.sync(resources=["leads"])
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))


def test_a_walk_that_ended_early_leaves_its_high_water_mark_where_it_was(duckdb_warehouse, simulator, world):
    duckdb_warehouse.sync(resources=["emails"], **UNPACED_EMAILS)
    mark = duckdb_warehouse.state("emails")["mark"]
    world.add("emails", 250)
    simulator.faults.add(Fault(path=EMAILS_PATH, kind="stuck_cursor"))
    result = duckdb_warehouse.sync(resources=["emails"], **UNPACED_EMAILS)
    assert result.progress.of("emails").warnings
    assert duckdb_warehouse.state("emails")["mark"] == mark

    simulator.faults.clear()
    duckdb_warehouse.sync(resources=["emails"], **UNPACED_EMAILS)
    assert duckdb_warehouse.keys("emails") == sorted(world.ids("emails"))


@pytest.mark.parametrize("seed", [1, 2])
def test_empty_pages_and_stuck_cursors_on_5_percent_of_pages_lose_and_double_nothing(
    warehouse, simulator, world, seed
):
    world.add("leads", 6_000)  # ~80 pages carry a cursor
    world.add("emails", 1_500)
    faults = [
        simulator.faults.add(Fault(kind="empty_page", probability=0.05, seed=seed)),
        simulator.faults.add(Fault(kind="stuck_cursor", probability=0.05, seed=seed + 100)),
    ]
    result = warehouse.sync(resources=TIME_KEYED_AND_CORE, **UNPACED_EMAILS)
    assert all(fault.fired for fault in faults), [(f.kind, f.seen, f.fired) for f in faults]
    assert result.progress.failed() == {}
    for name in TIME_KEYED_AND_CORE:
        key = ENDPOINTS_BY_NAME[name].primary_key
        assert warehouse.query(f"select count(*) - count(distinct {key}) from {{ds}}.{name}") == [(0,)]
        assert warehouse.keys(name, key) == sorted(world.ids(name)), name


def test_a_refused_resume_cursor_restarts_a_full_walk_from_its_first_page(warehouse, simulator, world):
    simulator.faults.add(Fault(path=LEADS_PATH, kind="status", status=503, after_requests=1))
    warehouse.sync(resources=["leads", "campaigns"], max_attempts=2)
    stored = warehouse.state("leads")["walk"]["cursor"]
    assert stored == world.ids("leads")[99]

    simulator.faults.clear()
    simulator.faults.add(Fault(path=LEADS_PATH, kind="reject_cursor", times=1))
    simulator.reset_requests()
    result = warehouse.sync(resources=["leads"])
    assert _sent_cursors(simulator, LEADS_PATH)[:2] == [stored, None]
    assert "refused" in result.progress.of("leads").warnings[0]
    assert warehouse.query("select count(*), count(distinct id) from {ds}.leads") == [(230, 230)]


def test_a_refused_resume_cursor_restarts_a_time_keyed_walk_from_its_high_water_mark(
    warehouse, simulator, world
):
    warehouse.sync(resources=["emails"], **UNPACED_EMAILS)
    world.add("emails", 250)
    simulator.faults.add(Fault(path=EMAILS_PATH, kind="status", status=503, after_requests=1))
    simulator.reset_requests()
    warehouse.sync(resources=["emails", "campaigns"], max_attempts=2, **UNPACED_EMAILS)
    window = simulator.requests_to(EMAILS_PATH)[0].query["min_timestamp_created"]
    assert warehouse.state("emails")["walk"]["cursor"]

    simulator.faults.clear()
    simulator.faults.add(Fault(path=EMAILS_PATH, kind="reject_cursor", times=1))
    simulator.reset_requests()
    warehouse.sync(resources=["emails"], **UNPACED_EMAILS)
    rejected, restarted = simulator.requests_to(EMAILS_PATH)[:2]
    assert rejected.status == 400 and "starting_after" not in restarted.query
    assert restarted.query["min_timestamp_created"] == window
    assert warehouse.query("select count(*), count(distinct id) from {ds}.emails") == [(390, 390)]


def test_an_item_deleted_under_a_stored_cursor_does_not_stop_the_next_walk(tmp_path):
    world = World(seed=5, sizes=SMALL_WORLD)
    with Simulator(world) as simulator:
        warehouse = duckdb_warehouse_for(tmp_path, simulator)
        simulator.faults.add(Fault(path=LEADS_PATH, kind="status", status=503, after_requests=1))
        warehouse.sync(resources=["leads", "campaigns"], max_attempts=2)
        world.remove("leads", [warehouse.state("leads")["walk"]["cursor"]])
        simulator.faults.clear()
        warehouse.sync(resources=["leads"])
        assert set(world.ids("leads")) <= set(warehouse.keys("leads"))
