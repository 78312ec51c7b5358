"""The endpoint registry: what the spec says is read from it; a new list endpoint is one entry."""

import httpx
import pytest

from sources.instantly import spec
from sources.simulator import ENTITIES, Entity, Simulator, World, registry

from .conftest import HEADERS, items_of, walk


@pytest.mark.parametrize("entity", ENTITIES.values(), ids=ENTITIES.keys())
def test_limits_scopes_and_schemas_come_from_the_spec(entity):
    if entity.paginated:
        assert entity.limit_bounds == spec.limit_bounds(entity.path, entity.method)
    # every list names its scopes in the spec, except GET /webhooks and an AI agent's activities (any key
    # may call them)
    anyone = entity.name in ("webhooks", "ai_agent_activities")
    assert {"all:read", "all:all"} <= entity.scopes or (anyone and not entity.scopes)
    rows = "items" if entity.paginated else None
    assert entity.item_schema == spec.list_item_schema(entity.path, entity.method, rows)
    assert entity.key_field in entity.item_schema["properties"]
    assert entity.time_field in entity.item_schema["properties"]


def test_adding_a_list_endpoint_is_one_registry_entry(monkeypatch):
    agents = Entity(name="ai_agents", path="/api/v2/ai-agents", cursor="timestamp")
    monkeypatch.setitem(registry.ENTITIES, agents.name, agents)
    monkeypatch.setitem(registry.ROUTES, ("GET", agents.path), agents)
    world = World(seed=4, sizes={"ai_agents": 23})
    with Simulator(world) as sim, httpx.Client(base_url=sim.base_url, headers=HEADERS) as client:
        pages = walk(client, agents.path, limit=10)
    assert [len(page["items"]) for page in pages] == [10, 10, 3]
    assert pages[0]["next_starting_after"] == pages[0]["items"][-1]["timestamp_created"]
    assert items_of(pages) == world.items("ai_agents")
    schema = spec.list_item_schema(agents.path, "GET")
    assert set(items_of(pages)[0]) <= set(schema["properties"])
