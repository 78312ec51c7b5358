"""Many workspaces, one command: each synced in parallel with its own key, rate limiter and state, into one
dataset (rows and keys carry `workspace_id`) or one dataset each; a failing workspace fails alone."""

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from destinations import Target
from pipelines.messages import ExitCode
from pipelines.runs import run_workspaces
from pipelines.sync import SyncOptions
from pipelines.workspaces import configured_workspaces, parse_workspaces
from sources.instantly.errors import ConfigError
from sources.simulator import Fault, RateLimits, Simulator, World

from .conftest import FAST_RETRIES, Warehouse, cli_args, run_cli
from .test_ratelimit import _max_in_any_window

RESOURCES = ["campaigns", "accounts", "leads"]
LEADS_PATH = "/api/v2/leads/list"
SIZES = {"campaigns": 3, "accounts": 4, "leads": 150, "emails": 20, "audit_logs": 10}


@pytest.fixture
def simulators() -> Iterator[dict[str, Simulator]]:
    """Three workspaces, each behind its own simulator (its own rate limits) and key."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(Simulator(World(seed=seed, sizes=SIZES), api_key=f"key-{name}"))
            for name, seed in (("acme", 21), ("beta", 22), ("gamma", 23))
        }


def configure(monkeypatch: pytest.MonkeyPatch, simulators: dict[str, Simulator], **keys: str) -> None:
    mapping = {
        name: {"api_key": keys.get(name, sim.api_key), "base_url": sim.base_url}
        for name, sim in simulators.items()
    }
    monkeypatch.setenv("SOURCES__INSTANTLY__WORKSPACES", json.dumps(mapping))


def sync_all(
    target: Target, tmp_path: Path, separate_datasets: bool = False, jobs: int | None = None, **source_args
):
    """Every configured workspace, `jobs` at once (default: as many as there are cores)."""
    options = SyncOptions(
        target=target,
        resources=RESOURCES,
        pipelines_dir=str(tmp_path / "pipelines"),
        progress_interval=0,
        source_args={**FAST_RETRIES, **source_args},
    )
    return run_workspaces(options, configured_workspaces(), separate_datasets, jobs)


def duckdb_target(tmp_path: Path) -> Target:
    return Target(destination="duckdb", duckdb_path=str(tmp_path / "warehouse.duckdb"))


def reader(target: Target, tmp_path: Path, simulator: Simulator) -> Warehouse:
    return Warehouse(target, str(tmp_path / "pipelines"), simulator)


def test_three_workspaces_land_in_one_dataset_each_row_tagged_with_its_workspace(
    monkeypatch, simulators, shared_target, tmp_path
):
    configure(monkeypatch, simulators)
    report = sync_all(shared_target, tmp_path)
    assert report.exit_code == 0
    warehouse = reader(shared_target, tmp_path, simulators["acme"])
    rows = warehouse.query(
        "select workspace_name, workspace_id, count(*) from {ds}.leads group by 1, 2 order by 1"
    )
    assert rows == [
        (name, sim.world.workspace()["id"], len(sim.world.items("leads")))
        for name, sim in sorted(simulators.items())
    ]
    for table in RESOURCES:
        assert warehouse.count(table) == sum(len(sim.world.items(table)) for sim in simulators.values())


def test_child_tables_carry_the_workspace_id_of_their_parent_row(monkeypatch, simulators, tmp_path):
    configure(monkeypatch, simulators)
    target = duckdb_target(tmp_path)
    sync_all(target, tmp_path)
    mismatched = reader(target, tmp_path, simulators["acme"]).query(
        "select count(*) from {ds}.campaigns__sequences s join {ds}.campaigns c "
        "on s._dlt_root_id = c._dlt_id where s.workspace_id is distinct from c.workspace_id"
    )
    children = reader(target, tmp_path, simulators["acme"]).count("campaigns__sequences")
    assert children > 0 and mismatched == [(0,)]


def test_the_same_ids_in_two_workspaces_are_two_rows(monkeypatch, tmp_path):
    """Keys start with workspace_id: a twin workspace with the very same item ids does not overwrite."""
    original = World(seed=31, sizes=SIZES)
    twin = World(seed=31, sizes=SIZES)
    twin.org_id = str(uuid.uuid4())
    with Simulator(original, api_key="key-one") as one, Simulator(twin, api_key="key-two") as two:
        configure(monkeypatch, {"one": one, "two": two})
        target = duckdb_target(tmp_path)
        sync_all(target, tmp_path)
        sync_all(target, tmp_path)  # a rerun merges each workspace's rows onto its own
        warehouse = reader(target, tmp_path, one)
        assert one.world.workspace()["id"] != two.world.workspace()["id"]
        assert warehouse.count("accounts") == 2 * len(original.items("accounts"))
        assert warehouse.query("select count(distinct email) from {ds}.accounts") == [
            (len(original.items("accounts")),)
        ]


def test_a_workspace_with_a_bad_key_fails_alone_and_the_report_names_it(
    monkeypatch, simulators, shared_target, tmp_path
):
    configure(monkeypatch, simulators, beta="not-a-key")
    report = sync_all(shared_target, tmp_path)
    assert report.exit_code == 3
    outcome = {run.workspace.name: run.error is None for run in report.workspaces}
    assert outcome == {"acme": True, "beta": False, "gamma": True}
    warehouse = reader(shared_target, tmp_path, simulators["acme"])
    assert warehouse.query("select distinct workspace_name from {ds}.leads order by 1") == [
        ("acme",),
        ("gamma",),
    ]
    statuses = warehouse.query(
        "select workspace_name, status, count(*) from {ds}.sync_runs group by 1, 2 order by 1, 2"
    )
    assert statuses == [("acme", "ok", 3), ("beta", "failed", 3), ("gamma", "ok", 3)]


def _release_once_all_fired(faults: list[Fault], timeout: float = 50) -> None:
    deadline = time.monotonic() + timeout
    while not all(fault.fired for fault in faults) and time.monotonic() < deadline:
        time.sleep(0.01)
    for fault in faults:
        fault.release()


def test_each_workspace_is_paced_by_its_own_limiter_and_all_run_at_once(monkeypatch, tmp_path):
    """With 5 requests/s allowed, each workspace stays within 5/s, and together they exceed it: the limits
    are per workspace, and the workspaces sync in parallel (three worker processes, more than the cores)."""
    sizes = {**SIZES, "leads": 1500}
    with ExitStack() as stack:
        simulators = {
            name: stack.enter_context(
                Simulator(
                    World(seed=seed, sizes=sizes), api_key=f"key-{name}", rate_limits=RateLimits(per_second=5)
                )
            )
            for name, seed in (("acme", 41), ("beta", 42), ("gamma", 43))
        }
        # each workspace's first leads page waits until all three have asked for theirs: the walks overlap
        # however far apart the worker processes started
        holds = [
            sim.faults.add(Fault(path=LEADS_PATH, kind="slow", delay=50, times=1))
            for sim in simulators.values()
        ]
        threading.Thread(target=_release_once_all_fired, args=(holds,), daemon=True).start()
        configure(monkeypatch, simulators)
        report = sync_all(duckdb_target(tmp_path), tmp_path, jobs=3, max_requests_per_second=5)
        times = {name: [r.time for r in sim.requests] for name, sim in simulators.items()}
        statuses = [r.status for sim in simulators.values() for r in sim.requests]
    assert report.exit_code == 0
    assert 429 not in statuses
    assert all(_max_in_any_window(sent, 1.0) <= 5 for sent in times.values())
    assert _max_in_any_window([t for sent in times.values() for t in sent], 1.0) > 10


def test_separate_datasets_give_each_workspace_its_own(monkeypatch, simulators, tmp_path):
    configure(monkeypatch, simulators)
    target = duckdb_target(tmp_path)
    sync_all(target, tmp_path, separate_datasets=True)
    for name, sim in simulators.items():
        own = reader(replace(target, dataset=f"instantly_{name}"), tmp_path, sim)
        assert own.query("select distinct workspace_name from {ds}.leads") == [(name,)]
        assert own.count("leads") == len(sim.world.items("leads"))
        assert own.query("select count(*) from {ds}.sync_runs") == [(len(RESOURCES),)]


def test_a_rerun_resumes_each_workspace_from_its_own_state(monkeypatch, simulators, tmp_path):
    configure(monkeypatch, simulators)
    target = duckdb_target(tmp_path)
    sync_all(target, tmp_path)
    before = len(simulators["beta"].world.items("leads"))
    simulators["beta"].world.add("leads", 3)
    report = sync_all(target, tmp_path)
    warehouse = reader(target, tmp_path, simulators["acme"])
    counts = dict(warehouse.query("select workspace_name, count(*) from {ds}.leads group by 1"))
    assert counts == {name: len(sim.world.items("leads")) for name, sim in simulators.items()}
    assert counts["beta"] == before + 3
    loaded = {run.workspace.name: run.result.rows_loaded.get("leads", 0) for run in report.workspaces}
    assert loaded == {"acme": 0, "beta": 3, "gamma": 0}  # only what changed is written again


@pytest.mark.parametrize(
    ("mapping", "phrase"),
    [
        ({"Acme Corp": {"api_key": "k"}}, "lowercase letters"),
        ({"acme": {"base_url": "http://x"}}, "has no api_key"),
        ({"acme": {"api_key": "k", "token": "t"}}, "unknown key(s) token"),
        ({"acme": "k"}, "must be a table"),
    ],
)
def test_a_bad_workspace_mapping_is_a_configuration_error_naming_the_problem(mapping, phrase):
    with pytest.raises(ConfigError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        parse_workspaces(mapping)


def test_workspaces_json_that_is_not_an_object_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("SOURCES__INSTANTLY__WORKSPACES", "[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        configured_workspaces()


def test_reset_in_a_shared_dataset_re_syncs_the_resource_of_every_workspace(
    monkeypatch, simulators, tmp_path
):
    configure(monkeypatch, simulators)
    target = duckdb_target(tmp_path)
    sync_all(target, tmp_path)
    env = {"SOURCES__INSTANTLY__WORKSPACES": os.environ["SOURCES__INSTANTLY__WORKSPACES"]}
    done = run_cli(
        *(
            "reset",
            "--duckdb-path",
            target.duckdb_path,
            "--pipelines-dir",
            str(tmp_path / "pipelines"),
            "leads",
        ),
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 3  # one line per workspace pipeline
    report = sync_all(target, tmp_path)
    loaded = {run.workspace.name: run.result.rows_loaded.get("leads", 0) for run in report.workspaces}
    assert loaded == {name: len(sim.world.items("leads")) for name, sim in simulators.items()}


def test_the_command_reports_each_workspace_and_exits_with_the_failure(simulators, tmp_path):
    mapping = {name: {"api_key": sim.api_key, "base_url": sim.base_url} for name, sim in simulators.items()}
    mapping["beta"]["api_key"] = "not-a-key"
    env = {
        "SOURCES__INSTANTLY__WORKSPACES": json.dumps(mapping),
        "SOURCES__INSTANTLY__BACKOFF_BASE_SECONDS": "0.01",
    }
    done = run_cli(*cli_args(tmp_path, "--resources", ",".join(RESOURCES)), env=env, cwd=tmp_path)
    assert done.returncode == 3
    assert "2 of 3 workspace(s) synced; FAILED: beta" in done.stdout
    assert "workspace beta" in done.stdout and "API key was rejected" in done.stdout
    assert "not-a-key" not in done.stdout + done.stderr


def test_status_shows_each_workspace_pipeline_and_its_cursors(monkeypatch, simulators, tmp_path):
    configure(monkeypatch, simulators)
    target = duckdb_target(tmp_path)
    sync_all(target, tmp_path)
    env = {"SOURCES__INSTANTLY__WORKSPACES": os.environ["SOURCES__INSTANTLY__WORKSPACES"]}
    done = run_cli(
        *("status", "--duckdb-path", target.duckdb_path, "--pipelines-dir", str(tmp_path / "pipelines")),
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    for name in simulators:
        assert f"pipeline instantly_duckdb_instantly__{name} -> duckdb:instantly" in done.stdout
    assert done.stdout.count("stored cursors:") == 3


def test_a_resource_failing_in_one_workspace_fails_only_there_and_the_run_exits_7(
    monkeypatch, simulators, tmp_path
):
    configure(monkeypatch, simulators)
    simulators["beta"].faults.add(Fault(path="/api/v2/leads/list", kind="status", status=503))
    target = duckdb_target(tmp_path)
    report = sync_all(target, tmp_path, max_attempts=2)
    assert report.exit_code == ExitCode.RESOURCES_FAILED
    failed = {run.workspace.name: list(run.progress.failed()) for run in report.workspaces}
    assert failed == {"acme": [], "beta": ["leads"], "gamma": []}
    warehouse = reader(target, tmp_path, simulators["acme"])
    per_workspace = dict(warehouse.query("select workspace_name, count(*) from {ds}.leads group by 1"))
    assert per_workspace == {"acme": 150, "gamma": 150}
    assert warehouse.query("select count(*) from {ds}.campaigns where workspace_name = 'beta'") == [(3,)]
