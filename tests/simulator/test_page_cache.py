"""The bench-only page cache (`Simulator(cache_pages=True)`): the same bytes as pages built on demand, fresh
pages once the world changes, and faults, keys and rate limits still applied to every request."""

from collections.abc import Iterator

import httpx
import orjson
import pytest

from sources.simulator import Fault, Simulator, World
from sources.simulator.limits import RateLimits
from sources.simulator.server import PAGE_CACHE_PATH

from .conftest import HEADERS, KEY, LEADS, SIZES, get_page, walk

LISTS = [LEADS, "/api/v2/campaigns", "/api/v2/emails"]


def _raw_walk(client: httpx.Client, path: str, limit: int = 40) -> list[bytes]:
    """Every page's body bytes, as sent."""
    bodies, after = [], None
    while True:
        params = {"limit": limit, **({"starting_after": after} if after else {})}
        response = client.post(path, json=params) if path == LEADS else client.get(path, params=params)
        assert response.status_code == 200, response.text
        bodies.append(response.content)
        after = orjson.loads(response.content).get("next_starting_after")
        if not after:
            return bodies


@pytest.fixture
def cached() -> Iterator[tuple[Simulator, httpx.Client]]:
    with (
        Simulator(World(seed=7, sizes=SIZES), api_key=KEY, cache_pages=True) as simulator,
        httpx.Client(base_url=simulator.base_url, headers=HEADERS, timeout=10) as client,
    ):
        yield simulator, client


def _stats(client: httpx.Client) -> dict[str, int]:
    return client.get(PAGE_CACHE_PATH).json()


@pytest.mark.parametrize("path", LISTS)
def test_cached_walks_are_byte_identical_to_walks_built_on_demand(cached, path):
    simulator, client = cached
    with (
        Simulator(World(seed=7, sizes=SIZES), api_key=KEY) as plain,
        httpx.Client(base_url=plain.base_url, headers=HEADERS, timeout=10) as plain_client,
    ):
        on_demand = _raw_walk(plain_client, path)
    first = _raw_walk(client, path)
    assert _stats(client) == {"hits": 0, "misses": len(first), "pages": len(first)}
    second = _raw_walk(client, path)
    assert first == second == on_demand
    assert _stats(client) == {"hits": len(first), "misses": len(first), "pages": len(first)}


@pytest.mark.parametrize("change", ["add", "remove"])
def test_a_change_to_the_world_is_served_fresh(cached, change):
    simulator, client = cached
    before = walk(client, LEADS, limit=100)
    world = simulator.world
    if change == "add":
        world.add("leads", 3)
    else:
        world.remove("leads", [before[0]["items"][0]["id"]])
    after = walk(client, LEADS, limit=100)
    assert after != before
    assert [item for page in after for item in page["items"]] == world.items("leads")
    assert _stats(client)["hits"] == 0


def test_faults_still_fire_on_cached_pages_and_leave_the_cache_intact(cached):
    simulator, client = cached
    page = get_page(client, LEADS, limit=10)  # cached now
    cursor = page["next_starting_after"]
    simulator.faults.add(Fault(path=LEADS, kind="status", times=1))
    assert client.post(LEADS, json={"limit": 10}).status_code == 500
    simulator.faults.add(Fault(path=LEADS, kind="empty_page", times=1))
    assert get_page(client, LEADS, limit=10, starting_after=cursor) == {
        "items": [],
        "next_starting_after": cursor,
    }
    quotes = Fault(path=LEADS, kind="rewrite", times=1, body=lambda body: body.replace(b'"', b"'"))
    simulator.faults.add(quotes)
    assert client.post(LEADS, json={"limit": 10}).content.startswith(b"{'items'")
    simulator.faults.add(Fault(path=LEADS, kind="repeat_item", times=1))
    repeated = get_page(client, LEADS, limit=10, starting_after=cursor)
    assert repeated["items"][0]["id"] == cursor
    assert get_page(client, LEADS, limit=10) == page  # the cached bytes were not changed by any fault
    wrong_key = {"Authorization": "Bearer wrong"}
    assert client.post(LEADS, json={"limit": 10}, headers=wrong_key).status_code == 401


def test_rate_limits_still_apply_to_cached_pages():
    limits = RateLimits(per_second=2, per_minute=1000)
    with (
        Simulator(World(seed=7, sizes=SIZES), api_key=KEY, cache_pages=True, rate_limits=limits) as sim,
        httpx.Client(base_url=sim.base_url, headers=HEADERS, timeout=10) as client,
    ):
        statuses = [client.post(LEADS, json={"limit": 10}).status_code for _ in range(4)]
    assert 429 in statuses


def test_the_counts_route_exists_only_with_the_cache(api):
    assert api.get(PAGE_CACHE_PATH).status_code == 404
