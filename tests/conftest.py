"""Fixtures: a simulator on 127.0.0.1, and a sync into a real DuckDB file or the real Postgres.

Postgres runs on 127.0.0.1:5432 on developer machines and in CI. Without it the Postgres tests skip,
except under CI=true, where they fail: a skipped destination must never pass as a green build.
"""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from destinations import Target
from pipelines.sync import SyncOptions, SyncResult, resource_states, run_sync
from sources.simulator import Simulator, World

# dlt requires a password in Postgres credentials; trust auth ignores it.
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres:trust@127.0.0.1:5432/test")
SMALL_WORLD = {"campaigns": 4, "accounts": 7, "leads": 230, "emails": 140, "audit_logs": 60, "webhooks": 8}
# Retries in tests wait milliseconds, not the production minute.
FAST_RETRIES = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05, "request_timeout_seconds": 5.0}


def postgres_reachable() -> bool:
    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()
        return True
    except psycopg2.OperationalError:
        return False


def require_postgres() -> None:
    if postgres_reachable():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"Postgres is not reachable at {POSTGRES_URL}, and CI=true forbids skipping")
    pytest.skip(f"Postgres is not reachable at {POSTGRES_URL}")


@pytest.fixture
def world() -> World:
    return World(seed=11, sizes=SMALL_WORLD)


@pytest.fixture
def simulator(world: World) -> Iterator[Simulator]:
    with Simulator(world) as sim:
        yield sim


@dataclass
class Warehouse:
    """A sync target plus the means to run syncs into it and read back what landed."""

    target: Target
    pipelines_dir: str
    simulator: Simulator
    source_args: dict[str, Any] = field(default_factory=dict)

    def sync(self, **overrides: Any) -> SyncResult:
        options = SyncOptions(
            target=self.target,
            pipelines_dir=self.pipelines_dir,
            progress_interval=0,
            resources=overrides.pop("resources", None),
            full_refresh=overrides.pop("full_refresh", False),
            source_args={
                "base_url": self.simulator.base_url,
                "api_key": self.simulator.api_key,
                **FAST_RETRIES,
                **self.source_args,
                **overrides,
            },
        )
        return run_sync(options)

    def query(self, sql: str) -> list[tuple]:
        """Run SQL with `{ds}` standing for the dataset's qualified name."""
        from pipelines.sync import make_pipeline

        pipeline = make_pipeline(self.target, self.pipelines_dir)
        with pipeline.sql_client() as client:
            return [
                tuple(row) for row in client.execute_sql(sql.format(ds=client.fully_qualified_dataset_name()))
            ]

    def count(self, table: str) -> int:
        return self.query(f"select count(*) from {{ds}}.{table}")[0][0]

    def tables(self) -> set[str]:
        """The dataset's tables and views (a Postgres database also holds other tests' datasets)."""
        schema = self.target.dataset
        rows = self.query(f"select table_name from information_schema.tables where table_schema = '{schema}'")
        return {row[0] for row in rows}

    def keys(self, table: str, key: str = "id") -> list:
        return sorted(row[0] for row in self.query(f"select {key} from {{ds}}.{table}"))

    def state(self, resource: str) -> dict[str, Any]:
        from pipelines.sync import make_pipeline

        return resource_states(make_pipeline(self.target, self.pipelines_dir)).get(resource, {})


def duckdb_warehouse_for(tmp_path: Path, simulator: Simulator) -> Warehouse:
    """A DuckDB warehouse in `tmp_path` for a simulator a test builds itself (its own world or limits)."""
    target = Target(destination="duckdb", duckdb_path=str(tmp_path / "warehouse.duckdb"))
    return Warehouse(target, str(tmp_path / "pipelines"), simulator)


@pytest.fixture
def duckdb_warehouse(tmp_path: Path, simulator: Simulator) -> Warehouse:
    return duckdb_warehouse_for(tmp_path, simulator)


@pytest.fixture
def postgres_dataset() -> Iterator[str]:
    """A fresh dataset name in the test Postgres, dropped (with its staging schema) afterwards."""
    require_postgres()
    dataset = f"instantly_test_{uuid.uuid4().hex[:10]}"
    yield dataset
    drop_postgres_dataset(dataset)


def drop_postgres_dataset(dataset: str) -> None:
    """Drop a dataset from the test Postgres, with the staging schema dlt's merges create beside it."""
    with psycopg2.connect(POSTGRES_URL) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"drop schema if exists {dataset} cascade; drop schema if exists {dataset}_staging cascade"
        )


@pytest.fixture
def postgres_warehouse(tmp_path: Path, simulator: Simulator, postgres_dataset: str) -> Warehouse:
    target = Target(destination="postgres", dataset=postgres_dataset, postgres_credentials=POSTGRES_URL)
    return Warehouse(target, str(tmp_path / "pipelines"), simulator)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path, simulator: Simulator) -> Warehouse:
    """Each test using this runs once per destination."""
    if request.param == "duckdb":
        return duckdb_warehouse_for(tmp_path, simulator)
    return request.getfixturevalue("postgres_warehouse")


# --- the `instantly-sync` command, run as a user runs it ------------------------------------------------


@pytest.fixture(params=["duckdb", "postgres"])
def shared_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """A dataset for several workspaces, once per destination."""
    if request.param == "duckdb":
        return Target(destination="duckdb", duckdb_path=str(tmp_path / "warehouse.duckdb"))
    dataset = request.getfixturevalue("postgres_dataset")
    return Target(destination="postgres", dataset=dataset, postgres_credentials=POSTGRES_URL)


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        env={**clean_env, "PYTHONPATH": str(Path(__file__).parents[1]), **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def cli_env(tmp_path, simulator) -> dict[str, str]:
    return {
        "SOURCES__INSTANTLY__API_KEY": simulator.api_key,
        "SOURCES__INSTANTLY__BASE_URL": simulator.base_url,
        "SOURCES__INSTANTLY__BACKOFF_BASE_SECONDS": "0.01",
    }


def cli_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--duckdb-path",
        str(tmp_path / "w.duckdb"),
        "--pipelines-dir",
        str(tmp_path / "pipelines"),
        *extra,
    ]
