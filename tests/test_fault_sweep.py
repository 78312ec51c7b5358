"""The fault sweep: for every fault kind the simulator knows, over a full sync of every resource, on both
engines: a run under that fault, then one clean rerun, leaves the warehouse equal to the simulator's truth,
table by table (every list's keys are the simulator's, and every table, child tables included, equals what a
clean sync of the same workspace into a fresh dataset loads).

CI sweeps one seed; `FAULT_SWEEP_SEEDS=20 pytest tests/test_fault_sweep.py` sweeps twenty by hand.
"""

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from destinations import Target
from pipelines.sync import make_pipeline
from sources.instantly.endpoints import ENDPOINTS, ENDPOINTS_BY_NAME, Endpoint, Kind, Strategy
from sources.instantly.settings import PAGE_REASKS
from sources.simulator import Fault, Simulator, World
from sources.simulator.faults import KINDS

from .conftest import POSTGRES_URL, SMALL_WORLD, Warehouse, drop_postgres_dataset, require_postgres

LEADS_PATH = ENDPOINTS_BY_NAME["leads"].path
SEEDS = range(int(os.environ.get("FAULT_SWEEP_SEEDS", "1")))
KEYED_LISTS = [e for e in ENDPOINTS if e.kind is Kind.LIST and isinstance(e.primary_key, str)]
# every request may take up to this long: `slow` answers take longer, so they time out and are retried
TIMEOUT = 0.5
SYNC_ARGS = {"request_timeout_seconds": TIMEOUT, "emails_requests_per_minute": 10_000, "max_attempts": 4}


def _requests_to(endpoint: Endpoint) -> str:
    """The fault path matching every request to the endpoint and no other's: any value for each `{param}`."""
    return re.sub(r"\{\w+\}", "*", endpoint.path)


# the fan-outs that name their parent in the path: a parent deleted mid-sync answers 404 there
PER_PARENT_PATHS = [_requests_to(e) for e in ENDPOINTS if e.fan_out and "{" in e.path]


def _one_endpoint(seed: int) -> str:
    return _requests_to(ENDPOINTS[seed % len(ENDPOINTS)])


# Each kind's faults for a seed: spread over every request, or lasting a whole run on one endpoint.
SWEEP: dict[str, Callable[[int], list[Fault]]] = {
    "status": lambda seed: [Fault(kind="status", status=503, probability=0.2, seed=seed)],
    "endpoint_down": lambda seed: [Fault(path=_one_endpoint(seed), kind="status", status=500)],
    "parents_gone": lambda seed: [
        Fault(path=path, kind="status", status=404, after_requests=seed % 3, times=1)
        for path in PER_PARENT_PATHS
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
    # every answer to one page of a walk: it ends early
    "empty_page": lambda seed: [
        Fault(path=LEADS_PATH, kind="empty_page", after_requests=seed % 4, times=PAGE_REASKS + 1)
    ],
    # fewer than a page's answers: asking again clears it
    "stuck_cursor": lambda seed: [Fault(kind="stuck_cursor", after_requests=seed % 8, times=PAGE_REASKS)],
    "reject_cursor": lambda seed: [Fault(kind="reject_cursor", after_requests=seed % 8, times=3)],
}


def test_the_sweep_covers_every_fault_kind_the_simulator_has():
    assert {fault.kind for make in SWEEP.values() for fault in make(0)} == set(KINDS)


@dataclass
class Site:
    """One sweep seed's workspace behind its simulator, shared by every kind and engine of the seed, and what
    a clean sync of it loads into each engine (the truth a swept warehouse must end equal to)."""

    seed: int
    world: World
    simulator: Simulator
    clean: dict[str, dict[str, list[str]]] = field(default_factory=dict)


@pytest.fixture(scope="module", params=SEEDS)
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    sizes = {**SMALL_WORLD, "leads": 600, "emails": 250, "audit_logs": 1_100}  # a few pages each
    world = World(seed=request.param + 100, sizes=sizes)
    with Simulator(world) as simulator:
        yield Site(request.param, world, simulator)


@pytest.fixture(params=["duckdb", "postgres"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return request.param


def warehouse_on(engine: str, site: Site, where: Path) -> Warehouse:
    if engine == "duckdb":
        target = Target(duckdb_path=str(where / "warehouse.duckdb"))
    else:
        target = Target(
            "postgres", f"instantly_sweep_{uuid.uuid4().hex[:10]}", postgres_credentials=POSTGRES_URL
        )
    return Warehouse(target, str(where / "pipelines"), site.simulator)


@pytest.fixture
def swept(engine: str, site: Site, tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = warehouse_on(engine, site, tmp_path)
    yield warehouse
    site.simulator.faults.clear()
    if engine == "postgres":
        drop_postgres_dataset(warehouse.target.dataset)


@pytest.fixture
def clean(engine: str, site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """What a clean sync of the site loads on this engine, synced once per seed and engine."""
    if engine not in site.clean:
        reference = warehouse_on(engine, site, tmp_path_factory.mktemp("clean"))
        try:
            reference.sync(**SYNC_ARGS)
            site.clean[engine] = _contents(reference)
        finally:
            if engine == "postgres":
                drop_postgres_dataset(reference.target.dataset)
    return site.clean[engine]


@pytest.mark.parametrize("kind", SWEEP)
def test_a_faulty_sync_and_one_clean_rerun_leave_the_warehouse_equal_to_the_simulators_truth(
    clean, swept, site, kind
):
    faults = [site.simulator.faults.add(fault) for fault in SWEEP[kind](site.seed)]
    faulty = swept.sync(**SYNC_ARGS)
    assert all(fault.fired for fault in faults), [(f.kind, f.seen, f.fired) for f in faults]
    assert faulty.progress.of("leads").ended_early == (kind == "empty_page")
    site.simulator.faults.clear()
    assert swept.sync(**SYNC_ARGS).progress.failed() == {}

    pipeline = make_pipeline(swept.target, swept.pipelines_dir)
    with pipeline.sql_client() as client:
        for endpoint in KEYED_LISTS:
            table = client.make_qualified_table_name(endpoint.name)
            keys = sorted(row[0] for row in client.execute_sql(f"select {endpoint.primary_key} from {table}"))
            assert keys == sorted(site.world.ids(endpoint.name)), endpoint.name
    assert _contents(swept) == clean


def _contents(warehouse: Warehouse) -> dict[str, list[str]]:
    """Every table's rows without dlt's own columns (ids differ between loads), in a stable order. A snapshot
    table keeps its rows per run: the newest run's are compared, without the run's time."""
    pipeline = make_pipeline(warehouse.target, warehouse.pipelines_dir)
    schema = pipeline.default_schema
    contents = {}
    with pipeline.sql_client() as client:
        for table in sorted(
            name for name in schema.data_table_names(seen_data_only=True) if not name.startswith("_dlt")
        ):
            columns = sorted(
                c for c in schema.get_table_columns(table) if c == "_dlt_list_idx" or c[:4] != "_dlt"
            )
            qualified = client.make_qualified_table_name(table)
            where = ""
            endpoint = ENDPOINTS_BY_NAME.get(table)
            if endpoint is not None and endpoint.strategy is Strategy.SNAPSHOT:  # rows stamped `synced_at`
                columns.remove("synced_at")
                where = f" where synced_at = (select max(synced_at) from {qualified})"
            rows = client.execute_sql(f"select {', '.join(columns)} from {qualified}{where}")
            contents[table] = sorted(repr(tuple(row)) for row in rows)
    return contents
