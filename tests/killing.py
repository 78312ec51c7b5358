"""`instantly-sync run` as a real child process, SIGKILLs aimed at the phase it is in, and reading back.

The phase is read from dlt's working folder, the way an operator would see it: an extract writes into a
temporary package folder and commits it to `normalize/extracted/`; normalize builds `load/new/<id>` and
moves it to `load/normalized/<id>`; load starts jobs there and moves the package to `load/loaded/` when its
row is in `_dlt_loads`. Requests arriving at the simulator mark an extract in progress.
"""

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
from dlt.common.versioned_state import decompress_state

from destinations import DEFAULT_DATASET
from pipelines.runs import RUNS_PIPELINE_SUFFIX as RUNS_SUFFIX
from sources.instantly.endpoints import ENDPOINTS_BY_NAME
from sources.simulator import Simulator

from .conftest import POSTGRES_URL

ROOT = Path(__file__).parents[1]
CORE_RESOURCES = "campaigns,accounts,leads,emails,audit_logs"
KILL_TARGETS = ("extract", "normalize", "load", "between_slices", "anytime")
CLI_MODULE = "pipelines.cli"


def cli_env(simulator: Simulator, **settings: str | float | int) -> dict[str, str]:
    """The child's environment: the simulator's URL and key, and `[sources.instantly]` settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DESTINATION__POSTGRES__CREDENTIALS": POSTGRES_URL,
            "SOURCES__INSTANTLY__API_KEY": simulator.api_key,
            "SOURCES__INSTANTLY__BASE_URL": simulator.base_url,
            "SOURCES__INSTANTLY__BACKOFF_BASE_SECONDS": "0.01",
            "SOURCES__INSTANTLY__BACKOFF_MAX_SECONDS": "0.05",
            # the client paces GET /emails at the real API's 20/min unless told otherwise
            "SOURCES__INSTANTLY__EMAILS_REQUESTS_PER_MINUTE": "100000",
        }
    )
    env.update({f"SOURCES__INSTANTLY__{name.upper()}": str(value) for name, value in settings.items()})
    return env


def run_args(workdir: Path, *extra: str, destination: str = "duckdb") -> list[str]:
    args = ["run", "--pipelines-dir", str(workdir / "pipelines"), "--progress-interval", "0"]
    if destination == "duckdb":
        args += ["--duckdb-path", str(workdir / "warehouse.duckdb")]
    return args + ["--destination", destination, *extra]


@dataclass
class SyncProcess:
    """One `instantly-sync` child; its output goes to files under `workdir/logs` (searched for secrets)."""

    args: list[str]
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen | None = None
    log_index: int = field(default=0)
    module: str = CLI_MODULE  # or a test-only entry that wraps it (tests/kill_after_commit.py)

    def start(self) -> "SyncProcess":
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_index = len(list(logs.glob("*.out")))
        self._out = (logs / f"{self.log_index:03d}.out").open("w")
        self._err = (logs / f"{self.log_index:03d}.err").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            env=self.env,
            cwd=self.workdir,
            stdout=self._out,
            stderr=self._err,
            start_new_session=True,  # its own process group: a kill takes any helper process with it
        )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.running:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.wait(30)

    def wait(self, timeout: float = 180) -> int:
        code = self.process.wait(timeout)
        self._out.close()
        self._err.close()
        return code

    @property
    def stderr(self) -> str:
        return (self.workdir / "logs" / f"{self.log_index:03d}.err").read_text()

    @property
    def stdout(self) -> str:
        return (self.workdir / "logs" / f"{self.log_index:03d}.out").read_text()


def run_to_end(args: list[str], env: dict[str, str], workdir: Path, module: str = CLI_MODULE) -> SyncProcess:
    child = SyncProcess(args, env, workdir, module=module).start()
    child.wait()
    return child


def working_dir(workdir: Path) -> Path | None:
    """The sync's pipeline folder (not that of the pipeline writing `sync_runs`)."""
    found = [
        p
        for p in (workdir / "pipelines").glob("instantly_*")
        if p.is_dir() and not p.name.endswith(RUNS_SUFFIX)
    ]
    return found[0] if found else None


def _children(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except FileNotFoundError:
        return []


def phase(workdir: Path) -> str:
    """What the pipeline's working folder says it is doing: extract, normalize or load."""
    pipeline = working_dir(workdir)
    if pipeline is None:
        return "extract"
    if _children(pipeline / "load" / "normalized"):
        return "load"
    if _children(pipeline / "load" / "new") or _children(pipeline / "normalize" / "extracted"):
        return "normalize"
    return "extract"


def pending_packages(workdir: Path) -> list[str]:
    """Load ids of packages extracted but not loaded (waiting for normalize, or normalized)."""
    pipeline = working_dir(workdir)
    if pipeline is None:
        return []
    folders = (("normalize", "extracted"), ("load", "new"), ("load", "normalized"))
    return sorted({p.name for parts in folders for p in _children(pipeline.joinpath(*parts))})


def loaded_packages(workdir: Path) -> int:
    pipeline = working_dir(workdir)
    return len(_children(pipeline / "load" / "loaded")) if pipeline else 0


@dataclass
class Kill:
    target: str
    phase: str  # what the working folder showed at the moment of the kill
    after_seconds: float


def kill_during(
    child: SyncProcess, target: str, simulator: Simulator, rng: random.Random, timeout: float = 60
) -> Kill | None:
    """SIGKILL `child` once it is in `target` (see KILL_TARGETS); None when it finished first."""
    started = time.monotonic()
    workdir = child.workdir
    requests_before = len(simulator.requests)
    loaded_before = loaded_packages(workdir)
    seen_pending: set[str] = set()

    def a_slice_was_loaded() -> bool:
        """A package seen waiting is gone (dlt may delete loaded packages), or `load/loaded` grew."""
        pending = set(pending_packages(workdir))
        gone = seen_pending - pending
        seen_pending.update(pending)
        return bool(gone) or loaded_packages(workdir) > loaded_before

    wanted_requests = rng.randint(1, 4)
    deadline = started + rng.uniform(0.8, 2.5)
    conditions: dict[str, Callable[[], bool]] = {
        "extract": lambda: len(simulator.requests) - requests_before >= wanted_requests,
        "normalize": lambda: phase(workdir) == "normalize",
        "load": lambda: phase(workdir) == "load",
        "between_slices": a_slice_was_loaded,
        "anytime": lambda: time.monotonic() >= deadline,
    }
    condition = conditions[target]
    grace = {"extract": 0.0, "normalize": 0.02, "load": 0.08, "between_slices": 0.03, "anytime": 0.0}[target]
    while time.monotonic() - started < timeout:
        if not child.running:
            child.wait()
            return None
        if condition():
            time.sleep(rng.uniform(0, grace))
            seen = phase(workdir)
            if not child.running:
                child.wait()
                return None
            child.kill()
            return Kill(target, seen, time.monotonic() - started)
        time.sleep(0.002)
    child.kill()
    raise AssertionError(f"the sync never reached {target!r} within {timeout} s")


class Reader:
    """SQL over the warehouse the child wrote (opened only while no child runs)."""

    def __init__(self, destination: str, location: str, dataset: str = DEFAULT_DATASET):
        self.destination = destination
        self.location = location
        self.dataset = dataset

    def query(self, sql: str, *params: Any) -> list[tuple]:
        sql = sql.replace("{ds}", self.dataset)
        if self.destination == "duckdb":
            if not Path(self.location).exists():
                return []
            with duckdb.connect(self.location, read_only=True) as connection:
                return [tuple(row) for row in connection.execute(sql.replace("%s", "?"), params).fetchall()]
        with psycopg2.connect(self.location) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [tuple(row) for row in cursor.fetchall()]

    def tables(self) -> set[str]:
        rows = self.query(
            "select table_name from information_schema.tables where table_schema = %s", self.dataset
        )
        return {name for (name,) in rows}

    def columns(self, table: str) -> list[str]:
        rows = self.query(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
            "order by ordinal_position",
            self.dataset,
            table,
        )
        return [name for (name,) in rows]

    def committed_state(self) -> dict[str, Any] | None:
        """The pipeline state a fresh machine would restore: the newest one whose load completed."""
        if "_dlt_pipeline_state" not in self.tables():
            return None
        rows = self.query(
            "select s.state from {ds}._dlt_pipeline_state s join {ds}._dlt_loads l "
            "on l.load_id = s._dlt_load_id where l.status = 0 and s.pipeline_name not like %s "
            "order by l.load_id desc limit 1",
            f"%{RUNS_SUFFIX}",
        )
        return decompress_state(rows[0][0]) if rows else None

    def count_rows(self, table: str) -> int:
        return self.query(f"select count(*) from {{ds}}.{table}")[0][0] if table in self.tables() else 0

    def rows_by_key(self, resource: str) -> dict[Any, dict[str, Any]]:
        if resource not in self.tables():
            return {}
        columns = self.columns(resource)
        key = ENDPOINTS_BY_NAME[resource].primary_key
        return {
            row[columns.index(key)]: dict(zip(columns, row, strict=True))
            for row in self.query(f"select * from {{ds}}.{resource}")
        }
