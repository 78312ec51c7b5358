"""The endpoint registry: what the spec says is read from it; a new list endpoint is one entry."""

import httpx
import pytest

from sources.instantly import spec
from sources.simulator import ENTITIES, Entity, Simulator, World, registry

from .conftest import HEADERS, items_of, walk


@pytest.mark.parametrize("entity", ENTITIES.values(), ids=ENTITIES.keys())
def test_limits_scopes_and_schemas_come_from_the_spec(entity):
    assert entity.limit_bounds == spec.limit_bounds(entity.path, entity.method)
    assert {"all:read", "all:all"} <= entity.scopes
    assert entity.item_schema == spec.list_item_schema(entity.path, entity.method)
    assert entity.key_field in entity.item_schema["properties"]
    assert entity.time_field in entity.item_schema["properties"]


def test_adding_a_list_endpoint_is_one_registry_entry(monkeypatch):
    lead_lists = Entity(name="lead_lists", path="/api/v2/lead-lists", cursor="timestamp")
    monkeypatch.setitem(registry.ENTITIES, lead_lists.name, lead_lists)
    monkeypatch.setitem(registry.ROUTES, ("GET", lead_lists.path), lead_lists)
    world = World(seed=4, sizes={"lead_lists": 23})
    with Simulator(world) as sim, httpx.Client(base_url=sim.base_url, headers=HEADERS) as client:
        pages = walk(client, lead_lists.path, limit=10)
    assert [len(page["items"]) for page in pages] == [10, 10, 3]
    assert pages[0]["next_starting_after"] == pages[0]["items"][-1]["timestamp_created"]
    assert items_of(pages) == world.items("lead_lists")
    schema = spec.list_item_schema(lead_lists.path, "GET")
    assert set(items_of(pages)[0]) <= set(schema["properties"])
