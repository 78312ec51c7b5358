"""A plan without a paid add-on (AI agents, DFY accounts, CRM, inbox placement): its resources are skipped as
not in the plan, which is no failure, while a 402 from any other endpoint (no API access at all) still stops
the run."""

import pytest

from pipelines.messages import ExitCode
from pipelines.report import summary
from pipelines.runs import run_workspaces
from pipelines.sync import SyncOptions
from pipelines.workspaces import SINGLE
from sources.instantly.errors import AuthError
from sources.simulator import Fault, World

from .conftest import FAST_RETRIES, SMALL_WORLD, cli_args, run_cli
from .test_run_reports import check

AGENTS = ("ai_agents", "ai_agent_activities")
NOTE = "the workspace's plan does not include AI agents"


@pytest.fixture
def world() -> World:
    return World(seed=11, sizes=SMALL_WORLD, missing_add_ons={"ai-agents"})


def _run(warehouse):
    options = SyncOptions(
        target=warehouse.target,
        pipelines_dir=warehouse.pipelines_dir,
        progress_interval=0,
        source_args={
            "base_url": warehouse.simulator.base_url,
            "api_key": warehouse.simulator.api_key,
            **FAST_RETRIES,
        },
    )
    return run_workspaces(options, [SINGLE])


def test_a_plan_without_ai_agents_loads_every_other_table_and_exits_0(warehouse, world):
    report = _run(warehouse)
    assert report.exit_code == ExitCode.OK
    runs = {
        resource: (status, error)
        for resource, status, error in warehouse.query("select resource, status, error from {ds}.sync_runs")
    }
    assert {resource: runs.pop(resource) for resource in AGENTS} == dict.fromkeys(
        AGENTS, ("not_in_plan", NOTE)
    )
    assert set(runs.values()) == {("ok", None)}
    assert warehouse.keys("campaigns") == sorted(world.ids("campaigns"))
    assert warehouse.keys("dfy_email_account_orders", "domain") == sorted(
        world.ids("dfy_email_account_orders")
    )
    tables = {row[0] for row in warehouse.query("select table_name from information_schema.tables")}
    assert not tables & set(AGENTS)


def test_the_run_report_names_the_add_on_the_plan_lacks(duckdb_warehouse):
    text = summary(_run(duckdb_warehouse))
    assert text.splitlines()[0].endswith("1 of 1 workspace(s) synced; 2 resource(s) not in the plan")
    for resource in AGENTS:
        (line,) = [line for line in text.splitlines() if line.strip().startswith(f"{resource} ")]
        assert line.split(None, 1)[1] == f"not in the plan: {NOTE}"


def test_a_402_from_an_add_ons_fan_out_alone_skips_only_that_fan_out(duckdb_warehouse, simulator):
    simulator.world.missing_add_ons = frozenset()
    simulator.faults.add(Fault(path="/api/v2/ai-agents/*", kind="status", status=402))
    result = duckdb_warehouse.sync(resources=list(AGENTS))
    assert result.progress.not_in_plan() == {"ai_agent_activities": NOTE}
    assert duckdb_warehouse.keys("ai_agents") == sorted(simulator.world.ids("ai_agents"))


def test_a_402_from_an_endpoint_of_no_add_on_still_stops_the_run(duckdb_warehouse, simulator):
    simulator.faults.add(Fault(path="/api/v2/campaigns", kind="status", status=402))
    with pytest.raises(Exception) as raised:
        duckdb_warehouse.sync(resources=["campaigns", "ai_agents", "leads"])
    error = raised.value
    while error is not None and not isinstance(error, AuthError):
        error = error.__cause__ or error.__context__
    assert error is not None and error.status == 402
    assert "no active paid plan with API access" in str(error)


def test_the_freshness_check_does_not_count_resources_the_plan_lacks(tmp_path, cli_env):
    synced = run_cli(*cli_args(tmp_path, "--resources", "campaigns,ai_agents"), env=cli_env, cwd=tmp_path)
    assert synced.returncode == ExitCode.OK, synced.stderr
    done = check(tmp_path, cli_env, "2h")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 of 1 resource(s) older than 2h" in done.stdout
