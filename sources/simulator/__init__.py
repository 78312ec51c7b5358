"""A local simulator of the Instantly API v2 (real HTTP on 127.0.0.1) for tests and benchmarks.

    world = World(seed=7, sizes={"campaigns": 5, "leads": 1000})
    with Simulator(world, api_key="sim-key") as sim:
        httpx.post(f"{sim.base_url}/api/v2/leads/list", json={"limit": 100},
                   headers={"Authorization": "Bearer sim-key", "User-Agent": "sync/1.0"})

``World`` holds seeded, spec-shaped data and its mutations; ``Simulator`` serves it with the API's
pagination, auth, rate limits and quirks; ``Fault`` injects failures. See ``registry.py`` for the
simulated lists, ``endpoints.py`` for the workspace, analytics and per-account campaign mappings, and
``analytics.py`` for how the figures are made.
"""

from .faults import Fault
from .generate import ABSENT
from .limits import RateLimits
from .registry import DERIVED, ENTITIES, Entity, Filter, register
from .server import RequestRecord, Simulator, serve
from .world import World

__all__ = [
    "ABSENT",
    "DERIVED",
    "ENTITIES",
    "Entity",
    "Fault",
    "Filter",
    "RateLimits",
    "RequestRecord",
    "Simulator",
    "World",
    "register",
    "serve",
]
