"""Workspaces on every core: `--jobs N` syncs N workspaces at once, each in a worker process, into datasets
they share (taking turns at the DuckDB file or Postgres dataset); a worker that dies fails its workspace
alone; `--jobs 1` syncs them one after another in the command's process."""

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from destinations import Target
from pipelines.jobs import run_in_workers
from pipelines.messages import ExitCode
from pipelines.runs import RUNS_COLUMNS, run_rows
from sources.instantly.endpoints import ENDPOINTS_BY_NAME
from sources.simulator import Fault, Simulator, World

from .conftest import POSTGRES_URL, Warehouse, drop_postgres_dataset, run_cli
from .killing import ROOT, SyncProcess, run_args, run_to_end
from .test_workspaces import configure, sync_all

RESOURCES = ["campaigns", "accounts", "leads"]
SIZES = {"campaigns": 3, "accounts": 4, "leads": 1500, "emails": 20, "audit_logs": 10}
# what differs between two runs of the same syncs: when they ran (the leads' mark is when their walk began)
WHEN = {"run_id", "started_at", "finished_at", "duration_seconds", "cursor_after"}


@pytest.fixture
def simulators() -> Iterator[dict[str, Simulator]]:
    """Four workspaces, each behind its own simulator and key: more workspaces than jobs."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(Simulator(World(seed=seed, sizes=SIZES), api_key=f"key-{name}"))
            for name, seed in (("acme", 51), ("beta", 52), ("gamma", 53), ("delta", 54))
        }


def holds_exactly_each_workspace(warehouse: Warehouse, simulators: dict[str, Simulator]) -> None:
    for table in RESOURCES:
        for name, sim in simulators.items():
            key = ENDPOINTS_BY_NAME[table].primary_key
            ids = warehouse.query(f"select {key} from {{ds}}.{table} where workspace_name = '{name}'")
            assert sorted(str(row[0]) for row in ids) == sorted(str(i) for i in sim.world.ids(table)), (
                name,
                table,
            )


def cli_env(simulators: dict[str, Simulator], **settings: str) -> dict[str, str]:
    mapping = {name: {"api_key": sim.api_key, "base_url": sim.base_url} for name, sim in simulators.items()}
    return {
        "SOURCES__INSTANTLY__WORKSPACES": json.dumps(mapping),
        "SOURCES__INSTANTLY__BACKOFF_BASE_SECONDS": "0.01",
        "SOURCES__INSTANTLY__BACKOFF_MAX_SECONDS": "0.05",
        "DESTINATION__POSTGRES__CREDENTIALS": POSTGRES_URL,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        **{f"SOURCES__INSTANTLY__{name.upper()}": value for name, value in settings.items()},
    }


def target_args(tmp_path: Path, target: Target, *extra: str) -> list[str]:
    args = run_args(tmp_path, "--resources", ",".join(RESOURCES), destination=target.destination)
    return [*args, "--dataset", target.dataset, *extra]


def test_workspaces_in_two_worker_processes_load_exactly_each_simulators_data_into_one_dataset(
    monkeypatch, simulators, shared_target, tmp_path
):
    """Checkpoints every 0.2 s, and each workspace's second leads page takes longer than that: each workspace
    loads in several slices, each worker opening the DuckDB file again and again while the other fetches; a
    worker opening it out of its turn would fail on DuckDB's lock."""
    for sim in simulators.values():
        sim.faults.add(
            Fault(path=ENDPOINTS_BY_NAME["leads"].path, kind="slow", delay=0.3, after_requests=1, times=1)
        )
    configure(monkeypatch, simulators)
    report = sync_all(shared_target, tmp_path, jobs=2, checkpoint_seconds=0.2, max_requests_per_second=40)
    assert report.exit_code == ExitCode.OK, [run.error for run in report.workspaces]
    assert all(run.result.slices > 1 for run in report.workspaces)  # a workspace loads in slices
    warehouse = Warehouse(shared_target, str(tmp_path / "pipelines"), simulators["acme"])
    holds_exactly_each_workspace(warehouse, simulators)
    statuses = warehouse.query("select workspace_name, status, count(*) from {ds}.sync_runs group by 1, 2")
    assert sorted(statuses) == sorted((name, "ok", len(RESOURCES)) for name in simulators)
    assert report.models  # the models were refreshed from a pipeline the command opened after the workers


def test_worker_processes_report_and_record_what_one_process_does(
    monkeypatch, simulators, shared_target, tmp_path
):
    """The same workspaces synced with `--jobs 2` and with `--jobs 1` (into another dataset, from another
    pipelines folder): the same report and `sync_runs` rows, but for when they ran."""
    configure(monkeypatch, simulators)
    one = replace(
        shared_target, dataset=f"{shared_target.dataset}_one", duckdb_path=str(tmp_path / "one.duckdb")
    )
    try:
        in_workers = sync_all(shared_target, tmp_path / "two", jobs=2)
        in_one_process = sync_all(one, tmp_path / "one", jobs=1)
        rows = {}
        for name, (report, target, pipelines) in {
            "workers": (in_workers, shared_target, tmp_path / "two"),
            "one": (in_one_process, one, tmp_path / "one"),
        }.items():
            warehouse = Warehouse(target, str(pipelines / "pipelines"), simulators["acme"])
            columns = [c for c in RUNS_COLUMNS if c not in WHEN]
            recorded = warehouse.query(f"select {', '.join(columns)} from {{ds}}.sync_runs")
            reported = [
                {k: v for k, v in row.items() if k not in WHEN}
                for run in report.workspaces
                for row in run_rows(run, report)
            ]
            rows[name] = (sorted(recorded, key=str), sorted(reported, key=str), report.exit_code)
    finally:
        if one.destination == "postgres":
            drop_postgres_dataset(one.dataset)
    assert rows["workers"] == rows["one"]
    assert len(rows["workers"][0]) == len(simulators) * len(RESOURCES)


def test_a_worker_killed_in_its_load_fails_that_workspace_alone_and_the_next_run_resumes_it(
    simulators, shared_target, tmp_path
):
    """beta's worker SIGKILLs itself holding the dataset's turn, its first load begun
    (tests/kill_worker.py): the others still take their turns and load; the report and `sync_runs` name the
    death; the command exits 1, as for any failed workspace."""
    args = target_args(tmp_path, shared_target, "--jobs", "2")
    killed = run_to_end(
        args, {**_base_env(), **cli_env(simulators), "KILL_WORKER_OF": "beta"}, tmp_path, "tests.kill_worker"
    )
    assert killed.process.returncode == ExitCode.FAILED, killed.stderr
    assert "3 of 4 workspace(s) synced; FAILED: beta" in killed.stdout
    assert "beta" in killed.stdout and "worker process syncing it died (killed by SIGKILL)" in killed.stdout
    warehouse = Warehouse(shared_target, str(tmp_path / "pipelines"), simulators["acme"])
    holds_exactly_each_workspace(warehouse, {n: s for n, s in simulators.items() if n != "beta"})
    beta = warehouse.query("select status, error from {ds}.sync_runs where workspace_name = 'beta'")
    assert [status for status, _ in beta] == ["failed"] * len(RESOURCES)
    assert all("worker process syncing it died (killed by SIGKILL)" in error for _, error in beta)

    again = run_to_end(args, {**_base_env(), **cli_env(simulators)}, tmp_path)
    assert again.process.returncode == ExitCode.OK, again.stderr
    holds_exactly_each_workspace(warehouse, simulators)


def test_jobs_1_syncs_the_workspaces_one_after_another(simulators, tmp_path):
    names = ["acme", "beta"]
    two = {name: simulators[name] for name in names}
    done = run_cli(*target_args(tmp_path, Target(), "--jobs", "1"), env=cli_env(two), cwd=tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    assert "2 of 2 workspace(s) synced" in done.stdout
    spans = sorted(
        (min(r.time for r in sim.requests), max(r.time for r in sim.requests)) for sim in two.values()
    )
    assert spans[0][1] < spans[1][0]  # the second workspace's first request came after the first's last


def test_the_api_keys_never_reach_a_workers_command_line_or_the_output(simulators, tmp_path):
    """The workers' command lines, read from /proc while they sync (every answer is slowed), and everything
    the command prints, hold none of the keys: the keys travel pickled through the workers' pipes."""
    for sim in simulators.values():
        sim.faults.add(Fault(kind="slow", delay=0.05))
    sync = SyncProcess(
        target_args(tmp_path, Target(), "--jobs", "2"), {**_base_env(), **cli_env(simulators)}, tmp_path
    )
    sync.start()
    command_lines = set()
    while sync.running:
        for child in _descendants(sync.process.pid):
            try:
                command_lines.add(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except FileNotFoundError:
                pass
        time.sleep(0.05)
    assert sync.wait() == ExitCode.OK, sync.stderr
    workers = [line for line in command_lines if "multiprocessing" in line]
    assert workers  # the workers were seen
    for key in (sim.api_key for sim in simulators.values()):
        assert not any(key in line for line in command_lines)
        assert key not in sync.stdout + sync.stderr


def test_each_worker_prints_the_progress_of_its_workspace_under_its_name(simulators, tmp_path):
    two = {name: simulators[name] for name in ("acme", "beta")}
    for sim in two.values():
        sim.faults.add(Fault(kind="slow", delay=0.05))
    args = target_args(tmp_path, Target(), "--jobs", "2", "--progress-interval", "0.2")
    done = run_cli(*args, env=cli_env(two), cwd=tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    for name in two:
        assert f"{name}: progress: " in done.stderr


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
@pytest.mark.parametrize("where", ["flag", "config"])
def test_a_bad_jobs_value_is_a_configuration_error_naming_the_setting(simulators, tmp_path, value, where):
    env = cli_env(simulators, **({"jobs": value} if where == "config" else {}))
    args = target_args(tmp_path, Target(), *(["--jobs", value] if where == "flag" else []))
    done = run_cli(*args, env=env, cwd=tmp_path)
    assert done.returncode == ExitCode.CONFIG
    assert "--jobs" in done.stderr and "sources.instantly.jobs" in done.stderr and repr(value) in done.stderr
    assert not any(sim.requests for sim in simulators.values())  # found before anything moved


def nap_or_die(task: float | str) -> float:
    """A worker's task (module level: a spawned worker imports it): nap `task` seconds, or die if "die"."""
    if task == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(task)
    return task


def test_a_task_whose_worker_dies_is_timed_from_when_a_worker_took_it_to_its_death():
    queued = datetime.now(UTC)
    napped, died = run_in_workers(nap_or_die, [0.5, "die"], jobs=1)
    assert napped == 0.5
    assert died.reason == "killed by SIGKILL"
    assert queued + timedelta(seconds=0.5) <= died.started_at <= died.ended_at <= datetime.now(UTC)


def _base_env() -> dict[str, str]:
    """This environment without the project's settings, as `run_cli` gives a child."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))},
        "PYTHONPATH": str(ROOT),
    }


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except FileNotFoundError:
            continue
        found += [int(c) for c in children]
        todo += [int(c) for c in children]
    return found
