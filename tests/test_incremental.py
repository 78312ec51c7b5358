"""Each incremental strategy across two runs, with the simulator's world changed in between."""

import pytest

from destinations.models import refresh
from pipelines.sync import make_pipeline
from sources.instantly.endpoints import ENDPOINTS, ENDPOINTS_BY_NAME, Kind, Strategy

# every list the API can enumerate, root lists and lists fetched per parent item
KEYED = [(e.name, e.primary_key) for e in ENDPOINTS if e.kind is Kind.LIST and isinstance(e.primary_key, str)]


@pytest.mark.parametrize(("resource", "key"), KEYED, ids=[name for name, _ in KEYED])
def test_first_sync_loads_every_item_exactly_once(warehouse, world, resource, key):
    warehouse.sync(resources=[resource])
    assert warehouse.keys(resource, key) == sorted(world.ids(resource))


def test_rerun_with_nothing_changed_writes_no_lead_email_or_audit_rows(duckdb_warehouse, simulator):
    duckdb_warehouse.sync()
    simulator.reset_requests()
    second = duckdb_warehouse.sync()
    for table in ("leads", "emails", "audit_logs"):
        assert second.rows_loaded.get(table, 0) == 0, table
    assert len(simulator.requests_to("/api/v2/emails")) == 1


def test_new_and_updated_leads_are_the_only_leads_written(warehouse, world):
    warehouse.sync(resources=["leads"])
    added = world.add("leads", 5)
    updated = world.update("leads", 3)
    second = warehouse.sync(resources=["leads"])
    assert second.rows_loaded["leads"] == 8
    assert warehouse.keys("leads") == sorted(world.ids("leads"))
    stored = dict(warehouse.query("select id, timestamp_updated from {ds}.leads"))
    for lead in updated:
        assert (
            stored[lead["id"]].isoformat(timespec="milliseconds").replace("+00:00", "Z")
            == (lead["timestamp_updated"])
        )
    assert {lead["id"] for lead in added} <= set(stored)


def test_leads_mark_is_the_start_of_the_last_complete_walk_less_the_overlap(duckdb_warehouse, world):
    duckdb_warehouse.sync(resources=["leads"], overlap_seconds=60)
    state = duckdb_warehouse.state("leads")
    assert "walk" not in state
    from sources.instantly.walks import parse_time

    lag = world.now() - parse_time(state["mark"])
    assert 59 <= lag.total_seconds() <= 120


@pytest.mark.parametrize("resource", ["emails", "audit_logs"])
def test_new_time_keyed_items_load_on_the_next_run_without_duplicates(warehouse, world, resource):
    warehouse.sync(resources=[resource])
    added = world.add(resource, 7)
    second = warehouse.sync(resources=[resource])
    assert second.rows_loaded[resource] == 7
    assert warehouse.keys(resource) == sorted(world.ids(resource))
    assert {item["id"] for item in added} <= set(warehouse.keys(resource))


def test_emails_rerun_asks_only_for_the_window_since_the_stored_mark(duckdb_warehouse, simulator):
    duckdb_warehouse.sync(resources=["emails"])
    mark = duckdb_warehouse.state("emails")["mark"]
    simulator.reset_requests()
    duckdb_warehouse.sync(resources=["emails"], overlap_seconds=0)
    (request,) = simulator.requests_to("/api/v2/emails")
    assert request.query["min_timestamp_created"] == mark
    assert request.query["sort_order"] == "asc"


def test_updated_campaign_is_merged_not_duplicated(warehouse, world):
    warehouse.sync(resources=["campaigns"])
    (changed,) = world.update("campaigns", ids=[world.ids("campaigns")[0]], changes={"name": "Renamed ✨"})
    warehouse.sync(resources=["campaigns"])
    assert warehouse.count("campaigns") == len(world.ids("campaigns"))
    names = dict(warehouse.query("select id, name from {ds}.campaigns"))
    assert names[changed["id"]] == "Renamed ✨"


def test_removed_child_rows_do_not_linger_after_a_merge(duckdb_warehouse, world):
    duckdb_warehouse.sync(resources=["campaigns"])
    campaign_id = world.ids("campaigns")[0]
    world.update("campaigns", ids=[campaign_id], changes={"sequences": []})
    duckdb_warehouse.sync(resources=["campaigns"])
    rows = duckdb_warehouse.query(
        "select count(*) from {ds}.campaigns__sequences s "
        f"join {{ds}}.campaigns c on s._dlt_root_id = c._dlt_id where c.id = '{campaign_id}'"
    )
    assert rows == [(0,)]


def test_new_api_field_becomes_a_new_column_on_the_next_run(warehouse, world):
    warehouse.sync(resources=["accounts"])
    world.add_field("accounts", "signal_score", 42)
    warehouse.sync(resources=["accounts"])
    values = {row[0] for row in warehouse.query("select signal_score from {ds}.accounts")}
    assert values == {42}


def test_a_field_changing_type_does_not_fail_the_load(duckdb_warehouse, world):
    duckdb_warehouse.sync(resources=["campaigns"])
    world.update("campaigns", ids=world.ids("campaigns")[:1], changes={"daily_limit": "unlimited"})
    duckdb_warehouse.sync(resources=["campaigns"])
    assert duckdb_warehouse.count("campaigns") == len(world.ids("campaigns"))


def test_lead_custom_variables_are_a_json_column_and_name_value_rows(warehouse, world):
    warehouse.sync(resources=["leads"])
    refresh(make_pipeline(warehouse.target, warehouse.pipelines_dir))
    lead = next(item for item in world.items("leads") if item.get("payload"))
    rows = warehouse.query(f"select name from {{ds}}.lead_variables where lead_id = '{lead['id']}'")
    assert sorted(name for (name,) in rows) == sorted(lead["payload"])


FULL_REFRESH_LISTS = [
    e.name
    for e in ENDPOINTS
    if e.kind is Kind.LIST and e.fan_out is None and e.strategy is Strategy.MERGE_ALL
]


@pytest.mark.parametrize("resource", FULL_REFRESH_LISTS)
def test_full_refresh_lists_pick_up_new_items_on_the_next_run(duckdb_warehouse, world, resource):
    duckdb_warehouse.sync(resources=[resource])
    world.add(resource, 2)
    duckdb_warehouse.sync(resources=[resource])
    key = ENDPOINTS_BY_NAME[resource].primary_key
    assert duckdb_warehouse.keys(resource, key) == sorted(world.ids(resource))
