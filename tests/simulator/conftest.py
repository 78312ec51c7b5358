"""A small simulated workspace served on 127.0.0.1, and an httpx client that talks to it like a sync would."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sources.simulator import Simulator, World

KEY = "sim-key"
HEADERS = {"Authorization": f"Bearer {KEY}", "User-Agent": "simulator-tests/1.0"}
SIZES = {"campaigns": 5, "accounts": 12, "leads": 250, "emails": 120, "audit_logs": 90}
LEADS = "/api/v2/leads/list"


@pytest.fixture
def sim_world() -> World:
    return World(seed=7, sizes=SIZES)


@pytest.fixture
def sim(sim_world: World) -> Iterator[Simulator]:
    with Simulator(sim_world, api_key=KEY) as simulator:
        yield simulator


@pytest.fixture
def api(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers=HEADERS, timeout=10) as client:
        yield client


def get_page(api: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    """One page; leads take their parameters in the JSON body, every other list in the query string."""
    response = api.post(path, json=params) if path == LEADS else api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def walk(api: httpx.Client, path: str, limit: int = 100, **params: Any) -> list[dict[str, Any]]:
    """Every page of a list, following the cursor the API returns until a page comes without one."""
    pages, after = [], None
    while True:
        extra = {"starting_after": after} if after else {}
        page = get_page(api, path, limit=limit, **params, **extra)
        pages.append(page)
        after = page.get("next_starting_after")
        if not after:
            return pages


def items_of(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page["items"]]
