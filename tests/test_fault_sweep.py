"""The fault sweep: for every fault kind the simulator knows, over a full sync of every resource, on both
engines: a run under that fault, then one clean rerun, leaves the warehouse equal to the simulator's truth,
table by table (every list's keys are the simulator's, and every table, child tables included, equals what a
clean sync of the same workspace into a fresh dataset loads).

CI sweeps one seed; `FAULT_SWEEP_SEEDS=20 pytest tests/test_fault_sweep.py` sweeps twenty by hand.
"""

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from destinations import Target
from pipelines.sync import make_pipeline
from sources.instantly.endpoints import ENDPOINTS, ENDPOINTS_BY_NAME, Kind, Strategy
from sources.simulator import Fault, Simulator, World
from sources.simulator.faults import KINDS

from .conftest import POSTGRES_URL, SMALL_WORLD, Warehouse, drop_postgres_dataset

SEEDS = range(int(os.environ.get("FAULT_SWEEP_SEEDS", "1")))
LISTS = [e for e in ENDPOINTS if e.kind is Kind.LIST]
# every request may take up to this long: `slow` answers take longer, so they time out and are retried
TIMEOUT = 0.5
SYNC_ARGS = {"request_timeout_seconds": TIMEOUT, "emails_requests_per_minute": 10_000, "max_attempts": 4}


def _one_endpoint(seed: int) -> str:
    return ENDPOINTS[seed % len(ENDPOINTS)].path.split("{")[0] + "*"


# Each kind's faults for a seed: spread over every request, or lasting a whole run on one endpoint.
SWEEP: dict[str, Callable[[int], list[Fault]]] = {
    "status": lambda seed: [Fault(kind="status", status=503, probability=0.2, seed=seed)],
    "endpoint_down": lambda seed: [Fault(path=_one_endpoint(seed), kind="status", status=500)],
    "parents_gone": lambda seed: [
        Fault(
            path="/api/v2/account-campaign-mappings/*",
            kind="status",
            status=404,
            after_requests=seed % 5,
            times=2,
        )
    ],
    # each 429 without Retry-After halves the client's pace, which recovers over a real minute
    "rate_limit": lambda seed: [Fault(kind="rate_limit", probability=0.05, seed=seed)],
    "rate_limit_with_retry_after": lambda seed: [
        Fault(kind="rate_limit", retry_after=0.01, probability=0.2, seed=seed)
    ],
    "slow": lambda seed: [Fault(kind="slow", delay=TIMEOUT + 0.2, after_requests=seed % 40, times=3)],
    "drop": lambda seed: [Fault(kind="drop", probability=0.2, seed=seed)],
    "truncate": lambda seed: [Fault(kind="truncate", probability=0.2, seed=seed)],
    "invalid_json": lambda seed: [Fault(kind="invalid_json", probability=0.2, seed=seed)],
    "error_200": lambda seed: [Fault(kind="error_200", after_requests=seed % 40, times=2)],
    "repeat_item": lambda seed: [Fault(kind="repeat_item", probability=0.3, seed=seed)],
    "rewrite": lambda seed: [Fault(path=_one_endpoint(seed), kind="rewrite", body=lambda body: body[:-1])],
    "empty_page": lambda seed: [Fault(kind="empty_page", after_requests=seed % 8, times=3)],
    "stuck_cursor": lambda seed: [Fault(kind="stuck_cursor", after_requests=seed % 8, times=3)],
    "reject_cursor": lambda seed: [Fault(kind="reject_cursor", after_requests=seed % 8, times=3)],
}


def test_the_sweep_covers_every_fault_kind_the_simulator_has():
    assert {fault.kind for make in SWEEP.values() for fault in make(0)} == set(KINDS)


@pytest.fixture
def swept_world(request: pytest.FixtureRequest) -> World:
    sizes = {**SMALL_WORLD, "leads": 600, "emails": 250, "audit_logs": 1_100}  # a few pages each
    return World(seed=request.node.callspec.params["seed"] + 100, sizes=sizes)


@pytest.fixture
def swept_simulator(swept_world: World) -> Iterator[Simulator]:
    with Simulator(swept_world) as simulator:
        yield simulator


@pytest.fixture(params=["duckdb", "postgres"])
def warehouses(request, tmp_path: Path, swept_simulator: Simulator) -> Iterator[tuple[Warehouse, Warehouse]]:
    """The swept warehouse, and a reference on the same engine that a clean sync fills."""
    if request.param == "duckdb":
        names = ("swept", "reference")
        yield tuple(
            Warehouse(Target(duckdb_path=str(tmp_path / f"{n}.duckdb")), str(tmp_path / n), swept_simulator)
            for n in names
        )
        return
    datasets = [request.getfixturevalue("postgres_dataset"), f"instantly_reference_{uuid.uuid4().hex[:10]}"]
    targets = [Target("postgres", dataset, postgres_credentials=POSTGRES_URL) for dataset in datasets]
    try:
        yield tuple(Warehouse(t, str(tmp_path / t.dataset), swept_simulator) for t in targets)
    finally:
        drop_postgres_dataset(datasets[1])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", SWEEP)
def test_a_faulty_sync_and_one_clean_rerun_leave_the_warehouse_equal_to_the_simulators_truth(
    warehouses, swept_simulator, swept_world, kind, seed
):
    swept, reference = warehouses
    faults = [swept_simulator.faults.add(fault) for fault in SWEEP[kind](seed)]
    swept.sync(**SYNC_ARGS)
    assert all(fault.fired for fault in faults), [(f.kind, f.seen, f.fired) for f in faults]
    swept_simulator.faults.clear()
    assert swept.sync(**SYNC_ARGS).progress.failed() == {}
    reference.sync(**SYNC_ARGS)

    for endpoint in LISTS:
        key = endpoint.primary_key
        if isinstance(key, str):
            assert swept.keys(endpoint.name, key) == sorted(swept_world.ids(endpoint.name)), endpoint.name
    tables = _tables(reference)
    assert _tables(swept) == tables
    for table in tables:
        assert _rows(swept, table) == _rows(reference, table), table


def _tables(warehouse: Warehouse) -> list[str]:
    schema = make_pipeline(warehouse.target, warehouse.pipelines_dir).default_schema
    return sorted(name for name in schema.data_table_names() if not name.startswith("_dlt"))


def _rows(warehouse: Warehouse, table: str) -> list[str]:
    """The table's rows without dlt's own columns (ids differ between loads), in a stable order. A snapshot
    table keeps one row per run: its newest is compared, without the run's time."""
    schema = make_pipeline(warehouse.target, warehouse.pipelines_dir).default_schema
    columns = sorted(
        c for c in schema.get_table_columns(table) if not c.startswith("_dlt") or c == "_dlt_list_idx"
    )
    where = ""
    endpoint = ENDPOINTS_BY_NAME.get(table)
    if endpoint is not None and endpoint.strategy is Strategy.SNAPSHOT:
        columns.remove(endpoint.primary_key)
        where = f" where {endpoint.primary_key} = (select max({endpoint.primary_key}) from {{ds}}.{table})"
    rows = warehouse.query(f"select {', '.join(columns)} from {{ds}}.{table}{where}")
    return sorted(repr(row) for row in rows)
