"""Two `instantly-sync run`s at once, as real processes: the second exits 4 or, with --wait, queues."""

import json
import time

import pytest

from sources.simulator import Fault, Simulator, World

from .conftest import POSTGRES_URL
from .killing import CORE_RESOURCES, Reader, SyncProcess, cli_env, run_args, run_to_end

RESOURCES = CORE_RESOURCES.split(",")
WORLD = {"campaigns": 3, "accounts": 5, "leads": 1000, "emails": 100, "audit_logs": 50}


@pytest.fixture
def slow_simulator() -> Simulator:
    """A workspace whose first leads page is held until the test clears the faults: a sync stays mid-walk
    for as long as a second process takes to start, on any machine."""
    with Simulator(World(seed=9, sizes=WORLD)) as simulator:
        simulator.faults.add(Fault(path="/api/v2/leads/list", kind="slow", delay=50, times=1))
        yield simulator


def start_and_wait_until_held(args: list[str], env: dict[str, str], workdir, simulator) -> SyncProcess:
    """Start a sync and return once the simulator is holding its leads page."""
    first = SyncProcess(args, env, workdir).start()
    while not any(fault.fired for fault in simulator.faults):
        assert first.running, first.stderr
        time.sleep(0.01)
    return first


def assert_warehouse_holds_the_workspace(workdir, world: World) -> None:
    reader = Reader("duckdb", str(workdir / "warehouse.duckdb"))
    for name in RESOURCES:
        assert sorted(reader.rows_by_key(name)) == sorted(world.ids(name)), name


def test_a_second_run_on_the_same_pipeline_exits_4_at_once_and_the_first_finishes_intact(
    tmp_path, slow_simulator
):
    args = run_args(tmp_path, "--resources", CORE_RESOURCES)
    env = cli_env(slow_simulator)
    first = start_and_wait_until_held(args, env, tmp_path, slow_simulator)
    second = run_to_end(args, env, tmp_path)
    assert first.running  # the second one did not wait for it
    slow_simulator.faults.clear()
    assert second.process.returncode == 4
    assert second.stderr.startswith("instantly-sync: error: another sync is running")
    assert "--wait" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    assert first.wait() == 0, first.stderr
    assert_warehouse_holds_the_workspace(tmp_path, slow_simulator.world)
    assert run_to_end(args, env, tmp_path).process.returncode == 0  # state and file still good


def test_a_second_run_into_the_same_duckdb_file_from_another_pipelines_dir_exits_4(tmp_path, slow_simulator):
    env = cli_env(slow_simulator)
    first = start_and_wait_until_held(
        run_args(tmp_path, "--resources", CORE_RESOURCES), env, tmp_path, slow_simulator
    )
    other = run_args(tmp_path, "--resources", CORE_RESOURCES)
    other[other.index("--pipelines-dir") + 1] = str(tmp_path / "other-pipelines")
    second = run_to_end(other, env, tmp_path)
    assert first.running
    slow_simulator.faults.clear()
    assert second.process.returncode == 4
    assert "warehouse.duckdb" in second.stderr
    assert first.wait() == 0, first.stderr


def test_a_second_run_with_wait_starts_when_the_first_ends_and_syncs_too(tmp_path, slow_simulator):
    args = run_args(tmp_path, "--resources", CORE_RESOURCES)
    env = cli_env(slow_simulator)
    first = start_and_wait_until_held(args, env, tmp_path, slow_simulator)
    second = SyncProcess([*args, "--wait"], env, tmp_path).start()
    while "waiting for it to finish" not in second.stderr:
        assert first.running, "the first run ended before the second one started waiting"
        time.sleep(0.01)
    slow_simulator.faults.clear()  # the first run goes on; the second one is waiting
    assert first.wait() == 0, first.stderr
    assert second.wait() == 0, second.stderr
    assert "1 of 1 workspace(s) synced" in second.stdout
    # the moment the first sync ended, as it recorded it under its lock (its process exits a little later,
    # by when the second may already be syncing)
    runs = Reader("duckdb", str(tmp_path / "warehouse.duckdb")).query(
        "select max(finished_at) from {ds}.sync_runs group by run_id order by 1"
    )
    assert len(runs) == 2
    first_ended = runs[0][0].timestamp()
    assert [r for r in slow_simulator.requests if r.time > first_ended]  # it synced after waiting
    assert_warehouse_holds_the_workspace(tmp_path, slow_simulator.world)


def test_a_second_postgres_run_from_another_pipelines_dir_into_the_same_dataset_exits_4(
    tmp_path, slow_simulator, postgres_dataset
):
    """Two machines (two pipelines folders) cannot share a file lock; they share the Postgres dataset."""
    env = cli_env(slow_simulator)
    args = run_args(
        tmp_path, "--resources", CORE_RESOURCES, "--dataset", postgres_dataset, destination="postgres"
    )
    first = start_and_wait_until_held(args, env, tmp_path, slow_simulator)
    other = list(args)
    other[other.index("--pipelines-dir") + 1] = str(tmp_path / "another-machine")
    second = run_to_end(other, env, tmp_path)
    assert first.running
    slow_simulator.faults.clear()
    assert second.process.returncode == 4
    assert f"another sync is writing the Postgres dataset '{postgres_dataset}'" in second.stderr
    assert first.wait() == 0, first.stderr
    reader = Reader("postgres", POSTGRES_URL, postgres_dataset)
    for name in RESOURCES:
        assert sorted(reader.rows_by_key(name)) == sorted(slow_simulator.world.ids(name)), name


def _two_workspaces_env(slow: Simulator, quick: Simulator) -> dict[str, str]:
    env = cli_env(slow)
    env["SOURCES__INSTANTLY__WORKSPACES"] = json.dumps(
        {
            name: {"api_key": sim.api_key, "base_url": sim.base_url}
            for name, sim in (("slow", slow), ("quick", quick))
        }
    )
    return env


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
def test_runs_of_two_workspaces_into_one_dataset_sync_side_by_side_from_two_machines(
    tmp_path, slow_simulator, request, destination
):
    """Airflow's mapped tasks: a command per workspace, each on a machine (pipelines folder) of its own."""
    dataset = request.getfixturevalue("postgres_dataset") if destination == "postgres" else "instantly"
    with Simulator(World(seed=10, sizes=WORLD)) as quick:
        env = _two_workspaces_env(slow_simulator, quick)
        args = run_args(
            tmp_path, "--resources", CORE_RESOURCES, "--dataset", dataset, destination=destination
        )
        first = start_and_wait_until_held([*args, "--workspaces", "slow"], env, tmp_path, slow_simulator)
        other = [*args, "--workspaces", "quick"]
        other[other.index("--pipelines-dir") + 1] = str(tmp_path / "another-machine")
        second = run_to_end(other, env, tmp_path)
        assert second.process.returncode == 0, second.stderr
        assert first.running  # the second did not wait for the first to end
        slow_simulator.faults.clear()
        assert first.wait() == 0, first.stderr
        location = POSTGRES_URL if destination == "postgres" else str(tmp_path / "warehouse.duckdb")
        reader = Reader(destination, location, dataset)
        for name, simulator in (("slow", slow_simulator), ("quick", quick)):
            loaded = reader.query(f"select id from {{ds}}.leads where workspace_name = '{name}'")
            assert sorted(row[0] for row in loaded) == sorted(simulator.world.ids("leads"))


def test_a_reset_while_a_workspace_syncs_into_the_dataset_exits_4(tmp_path, slow_simulator):
    with Simulator(World(seed=10, sizes=WORLD)) as quick:
        env = _two_workspaces_env(slow_simulator, quick)
        args = run_args(tmp_path, "--resources", CORE_RESOURCES)
        first = start_and_wait_until_held([*args, "--workspaces", "slow"], env, tmp_path, slow_simulator)
        reset = ["reset", "--pipelines-dir", str(tmp_path / "pipelines"), "--duckdb-path"]
        reset += [str(tmp_path / "warehouse.duckdb"), "--workspaces", "quick", "leads"]
        second = run_to_end(reset, env, tmp_path)
        assert first.running
        slow_simulator.faults.clear()
        assert second.process.returncode == 4, second.stderr
        assert "another sync is running" in second.stderr
        assert first.wait() == 0, first.stderr
