"""Odd data never stops a sync: what can load loads, what cannot is kept in `_rejected` and counted.

The simulator's `rewrite` fault adds hand-made items to the first page of leads, written as JSON text the
simulator's own encoder would refuse where needed (integers beyond 64 bits, lone UTF-16 surrogates).
"""

import json
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from sources.simulator import Fault

LEADS_PATH = "/api/v2/leads/list"
LONE_HIGH = "@@lone-high-surrogate@@"
LONE_LOW = "@@lone-low-surrogate@@"
MEGABYTE = 1 << 20


def nested(depth: int, make: Callable[[Any], Any]) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = make(value)
    return value


def adding_to_the_first_page(extra: list[Any], first_id: str) -> Callable[[bytes], bytes]:
    """A `rewrite` fault body: the page that starts with `first_id` gets `extra` appended."""

    def rewrite(body: bytes) -> bytes:
        page = orjson.loads(body)
        if not page["items"] or page["items"][0]["id"] != first_id:
            return body
        page["items"] += extra
        text = json.dumps(page)  # the standard encoder: integers of any size
        return text.replace(LONE_HIGH, "\\ud800").replace(LONE_LOW, "x\\udc00y").encode()

    return rewrite


def a_lead_like(world, **changes: Any) -> dict[str, Any]:
    lead = {**world.items("leads")[0], "id": str(uuid.uuid4())}
    lead.update(changes)
    return {k: v for k, v in lead.items() if v is not ...}


UNLOADABLE = {
    "no_key": lambda w: a_lead_like(w, id=...),
    "empty_key": lambda w: a_lead_like(w, id=""),
    "key_is_an_object": lambda w: a_lead_like(w, id={"value": str(uuid.uuid4())}),
    "not_an_object": lambda w: ["a", "list", "where", "an", "item", "belongs"],
    "integer_beyond_64_bits": lambda w: a_lead_like(w, email_open_count=2**64 + 1),
    "whole_number_beyond_64_bits": lambda w: a_lead_like(w, status=10**30),
    "nested_deeper_than_any_serializer_goes": lambda w: a_lead_like(
        w, payload=nested(300, lambda v: {"k": v})
    ),
}


@pytest.fixture
def with_unloadable_items(simulator, world) -> dict[str, Any]:
    items = {name: make(world) for name, make in UNLOADABLE.items()}
    rewrite = adding_to_the_first_page(list(items.values()), world.ids("leads")[0])
    simulator.faults.add(Fault(path=LEADS_PATH, kind="rewrite", body=rewrite))
    return items


def test_unloadable_items_are_kept_in_rejected_with_resource_raw_json_and_reason(
    warehouse, world, with_unloadable_items
):
    result = warehouse.sync(resources=["leads"])
    rows = warehouse.query("select resource, raw_json, reason from {ds}._rejected")
    assert result.progress.of("leads").rejected == len(UNLOADABLE) == len(rows)
    assert {resource for resource, _, _ in rows} == {"leads"}
    kept = {_identity(json.loads(raw)): reason for _, raw, reason in rows}
    reasons = {name: kept[_identity(item)] for name, item in with_unloadable_items.items()}
    assert "no `id`" in reasons["no_key"] and "no `id`" in reasons["empty_key"]
    assert "`id`" in reasons["key_is_an_object"] and "dict" in reasons["key_is_an_object"]
    assert "not a JSON object" in reasons["not_an_object"]
    assert "email_open_count" in reasons["integer_beyond_64_bits"]
    assert "status" in reasons["whole_number_beyond_64_bits"]
    assert "nested too deeply" in reasons["nested_deeper_than_any_serializer_goes"]


@pytest.mark.parametrize("written", [b"-2.5e+30", b"1E19", b"9.3e18"])
def test_a_number_beyond_64_bits_written_with_an_exponent_is_rejected(
    duckdb_warehouse, simulator, world, written
):
    """Alone on its page, written as UTF-8 without escapes: nothing else makes the page look odd."""
    lead = a_lead_like(world, email_open_count=987654321)

    def rewrite(body: bytes) -> bytes:
        page = orjson.loads(body)
        page["items"] += [lead] if page["items"][:1] == world.items("leads")[:1] else []
        return orjson.dumps(page).replace(b"987654321", written)

    simulator.faults.add(Fault(path=LEADS_PATH, kind="rewrite", body=rewrite))
    duckdb_warehouse.sync(resources=["leads"])
    reasons = duckdb_warehouse.query("select reason from {ds}._rejected")
    assert len(reasons) == 1 and "email_open_count" in reasons[0][0]
    assert lead["id"] not in duckdb_warehouse.keys("leads")


def _identity(item: Any) -> str:
    """How to find an item in `_rejected`: its (generated) id where it has one, else all of it."""
    if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
        return item["id"]
    if isinstance(item, dict) and isinstance(item.get("id"), dict):
        return item["id"]["value"]
    return json.dumps(item, sort_keys=True)


def test_the_valid_items_of_a_page_with_unloadable_ones_all_load_into_their_own_table(
    warehouse, world, with_unloadable_items
):
    warehouse.sync(resources=["leads"])
    assert warehouse.keys("leads") == sorted(world.ids("leads"))  # the later pages too: nothing diverted
    assert warehouse.query("select count(*) - count(distinct id) from {ds}.leads") == [(0,)]


def test_an_item_rejected_again_by_the_next_run_is_kept_once(duckdb_warehouse, with_unloadable_items):
    duckdb_warehouse.sync(resources=["leads"])
    first = duckdb_warehouse.query("select max(rejected_at) from {ds}._rejected")[0][0]
    duckdb_warehouse.sync(resources=["leads"])
    assert duckdb_warehouse.count("_rejected") == len(UNLOADABLE)
    assert duckdb_warehouse.query("select min(rejected_at) from {ds}._rejected")[0][0] > first


ODD_BUT_LOADABLE = {
    "wrong_types_in_known_fields": {
        "status": "active",
        "email_open_count": {"opens": 3},
        "timestamp_last_open": "yesterday",
        "company_name": 42,
    },
    "a_one_megabyte_string": {"personalization": "x" * MEGABYTE},
    "deep_nesting": {"enrichment": nested(40, lambda v: {"level": v})},
    "deep_lists": {"signals": nested(40, lambda v: [v])},
    "new_nested_shapes": {"first_name": {"given": "Ada", "aliases": ["A", "Lovelace"]}, "tags": [{"t": [1]}]},
    "a_very_long_key_over_a_list": {"k" * 300: [{"v": 1}]},
    "nul_bytes": {"last_name": "Nu\x00ll", "nul\x00key": "in a key too"},
    "lone_surrogates": {"website": LONE_HIGH, "phone": LONE_LOW},
}


@pytest.fixture
def with_odd_items(simulator, world) -> dict[str, dict[str, Any]]:
    items = {name: a_lead_like(world, **changes) for name, changes in ODD_BUT_LOADABLE.items()}
    rewrite = adding_to_the_first_page(list(items.values()), world.ids("leads")[0])
    simulator.faults.add(Fault(path=LEADS_PATH, kind="rewrite", body=rewrite))
    return items


def test_odd_but_loadable_items_load_and_nothing_is_rejected(warehouse, world, with_odd_items):
    result = warehouse.sync(resources=["leads"])
    assert result.progress.of("leads").rejected == 0
    expected = sorted(world.ids("leads") + [item["id"] for item in with_odd_items.values()])
    assert warehouse.keys("leads") == expected


def test_odd_values_are_stored_cleaned_but_otherwise_whole(warehouse, with_odd_items):
    warehouse.sync(resources=["leads"])
    by_case = {name: item["id"] for name, item in with_odd_items.items()}

    def value(case: str, column: str) -> Any:
        return warehouse.query(f"select {column} from {{ds}}.leads where id = '{by_case[case]}'")[0][0]

    assert value("a_one_megabyte_string", "length(personalization)") == MEGABYTE
    assert value("nul_bytes", "last_name") == "Null"  # NUL removed: Postgres cannot store it
    assert value("nul_bytes", "nulkey") == "in a key too"
    assert value("lone_surrogates", "website") == "\ufffd"  # the replacement character
    assert value("lone_surrogates", "phone") == "x\ufffdy"
    assert value("wrong_types_in_known_fields", "status__v_text") == "active"  # beside the typed column
