"""Progress is committed in slices: a run that dies loses at most the slice in flight."""

import pytest

from pipelines.sync import make_pipeline
from sources.instantly import instantly_source
from sources.instantly.errors import ResourcesFailed
from sources.simulator import Fault

from .conftest import FAST_RETRIES

LEADS_PATH = "/api/v2/leads/list"


def test_every_page_its_own_slice_still_loads_each_item_once(duckdb_warehouse, world):
    result = duckdb_warehouse.sync(resources=["leads", "emails"], checkpoint_seconds=0)
    assert result.slices == 3  # leads has 3 pages, emails 2: one page per resource per committed slice
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))
    assert duckdb_warehouse.keys("emails") == sorted(world.ids("emails"))
    assert "walk" not in duckdb_warehouse.state("leads")


def test_a_failed_run_resumes_from_the_stored_cursor_not_from_the_start(duckdb_warehouse, simulator, world):
    simulator.faults.add(Fault(path=LEADS_PATH, kind="status", status=500, after_requests=2, times=1000))
    with pytest.raises(ResourcesFailed):
        duckdb_warehouse.sync(resources=["leads"], checkpoint_seconds=0, max_attempts=2)
    stored = duckdb_warehouse.state("leads")["walk"]["cursor"]
    assert duckdb_warehouse.count("leads") == 200  # the two committed slices

    simulator.faults.clear()
    simulator.reset_requests()
    duckdb_warehouse.sync(resources=["leads"], checkpoint_seconds=0)
    assert simulator.requests_to(LEADS_PATH)[0].body["starting_after"] == stored
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))


def test_a_pending_package_from_a_crashed_run_is_loaded_and_then_the_run_extracts(
    duckdb_warehouse, simulator, world
):
    pipeline = make_pipeline(duckdb_warehouse.target, duckdb_warehouse.pipelines_dir)
    source = instantly_source(
        api_key=simulator.api_key, base_url=simulator.base_url, resources=["campaigns"], **FAST_RETRIES
    )
    pipeline.extract(source)
    pipeline.normalize()  # the crash: extracted and normalized, never loaded
    assert pipeline.has_pending_data

    result = duckdb_warehouse.sync(resources=["campaigns", "accounts"])
    assert not make_pipeline(duckdb_warehouse.target, duckdb_warehouse.pipelines_dir).has_pending_data
    assert result.slices == 2  # the pending package, then the new extract
    assert duckdb_warehouse.keys("campaigns") == sorted(world.ids("campaigns"))
    assert duckdb_warehouse.keys("accounts", "email") == sorted(world.ids("accounts"))


def test_stored_mark_equals_the_newest_item_loaded(duckdb_warehouse, world):
    duckdb_warehouse.sync(resources=["emails"])
    newest = max(item["timestamp_created"] for item in world.items("emails"))
    assert duckdb_warehouse.state("emails")["mark"] == newest
