"""Cursor pagination as NOTES.md describes it: always a limit, the biggest allowed; cursors from the API."""

import re

from sources.instantly.endpoints import ENDPOINTS, ENDPOINTS_BY_NAME, Kind, Pagination
from sources.simulator import Simulator, World

from .conftest import duckdb_warehouse_for

LEADS_PATH = ENDPOINTS_BY_NAME["leads"].path


def _sent_fields(record) -> dict:
    return record.body if record.path == LEADS_PATH else record.query


def _endpoint_of(path: str):
    for endpoint in ENDPOINTS:
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", endpoint.path), path):
            return endpoint
    raise AssertionError(f"no endpoint serves {path}")


def test_every_list_request_sends_the_largest_limit_the_endpoint_allows(duckdb_warehouse, simulator):
    duckdb_warehouse.sync()
    lists = [r for r in simulator.requests if _endpoint_of(r.path).kind is Kind.LIST]
    assert {_endpoint_of(r.path).name for r in lists} == {e.name for e in ENDPOINTS if e.kind is Kind.LIST}
    for record in lists:
        if _endpoint_of(record.path).pagination is Pagination.NONE:  # served whole: the spec has no limit
            assert "limit" not in _sent_fields(record)
        else:
            assert int(_sent_fields(record)["limit"]) == _endpoint_of(record.path).page_size


def test_leads_cursor_travels_in_the_json_body_never_the_query_string(duckdb_warehouse, simulator):
    duckdb_warehouse.sync(resources=["leads"])
    leads_requests = simulator.requests_to(LEADS_PATH)
    assert len(leads_requests) == 3  # 230 leads: 100 + 100 + 30 (a short page carries no cursor)
    assert [("starting_after" in r.body) for r in leads_requests] == [False, True, True]
    assert all("starting_after" not in r.query and "limit" not in r.query for r in leads_requests)


def test_each_page_asks_for_the_cursor_the_previous_page_returned(duckdb_warehouse, simulator, world):
    duckdb_warehouse.sync(resources=["accounts"])
    accounts = sorted(world.items("accounts"), key=lambda a: (a["timestamp_created"], a["email"]))
    # 7 accounts fit one page of 100: one request, no cursor
    assert [r.query.get("starting_after") for r in simulator.requests_to("/api/v2/accounts")] == [None]
    assert duckdb_warehouse.keys("accounts", "email") == sorted(a["email"] for a in accounts)


def test_empty_workspace_loads_no_items_with_one_request_per_root_resource(tmp_path):
    lists = [e for e in ENDPOINTS if e.kind is Kind.LIST and e.fan_out is None]
    empty = World(seed=3, sizes={e.name: 0 for e in lists})
    with Simulator(empty) as simulator:
        result = duckdb_warehouse_for(tmp_path, simulator).sync()
        roots = [e for e in ENDPOINTS if e.fan_out is None]
        assert len(simulator.requests) == len(roots)  # fan-outs have no parent items to ask about
    assert not any(result.rows_loaded.get(e.name) for e in lists)


def test_exact_page_multiple_stops_on_the_empty_page_after_the_last_full_one(tmp_path):
    world = World(seed=5, sizes={"leads": 200, "campaigns": 1, "accounts": 1, "emails": 0, "audit_logs": 0})
    with Simulator(world) as simulator:
        warehouse = duckdb_warehouse_for(tmp_path, simulator)
        warehouse.sync(resources=["leads"])
        statuses = [len(r.body) for r in simulator.requests_to(LEADS_PATH)]
        assert len(statuses) == 3  # full, full (still with a cursor), empty
        assert warehouse.count("leads") == 200


def test_legacy_leads_served_out_of_id_order_are_all_loaded(duckdb_warehouse, world):
    ids = world.ids("leads")
    assert ids != sorted(ids), "the simulator should serve some legacy leads out of id order"
    duckdb_warehouse.sync(resources=["leads"])
    assert duckdb_warehouse.keys("leads") == sorted(ids)


def test_body_pagination_is_declared_only_for_post_endpoints():
    for endpoint in ENDPOINTS:
        assert (endpoint.pagination is Pagination.BODY) == (endpoint.method == "POST")
