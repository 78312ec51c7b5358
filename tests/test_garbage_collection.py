"""A sync runs Python's cyclic garbage collector less often (it costs a fifth of a large extract otherwise),
and leaves the process's thresholds as it found them, also when the sync fails."""

import gc

import pytest

from sources.instantly import settings
from sources.simulator import Fault

LEADS_PATH = "/api/v2/leads/list"


def thresholds_seen_by_the_api(simulator) -> list[tuple[int, int, int]]:
    """The thresholds at each leads request (the simulator answers in this process)."""
    seen: list[tuple[int, int, int]] = []

    def record(body: bytes) -> bytes:
        seen.append(gc.get_threshold())
        return body

    simulator.faults.add(Fault(path=LEADS_PATH, kind="rewrite", body=record))
    return seen


def test_a_sync_raises_the_thresholds_while_it_runs_and_restores_them(duckdb_warehouse, simulator):
    before = gc.get_threshold()
    seen = thresholds_seen_by_the_api(simulator)
    duckdb_warehouse.sync(resources=["leads"])
    assert seen and set(seen) == {settings.SYNC_GC_THRESHOLDS}
    assert gc.get_threshold() == before


def test_a_failed_sync_restores_the_thresholds_too(duckdb_warehouse, simulator):
    before = gc.get_threshold()
    simulator.faults.add(Fault(path=LEADS_PATH, kind="status", status=400))
    with pytest.raises(Exception, match="400"):
        duckdb_warehouse.sync(resources=["leads"])
    assert gc.get_threshold() == before
