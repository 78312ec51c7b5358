"""`reset RESOURCE` re-syncs one resource from scratch; `--start-date` bounds a first backfill."""

import json

from pipelines.cli import ExitCode
from sources.instantly.walks import parse_time

from .conftest import cli_args, run_cli
from .killing import Reader

LEADS_PATH = "/api/v2/leads/list"


def reset_args(tmp_path, *resources: str) -> list[str]:
    return [
        "reset",
        *("--duckdb-path", str(tmp_path / "w.duckdb"), "--pipelines-dir", str(tmp_path / "pipelines")),
        *resources,
    ]


def test_reset_drops_the_resource_tables_and_state_and_leaves_the_others(tmp_path, cli_env, world):
    assert (
        run_cli(*cli_args(tmp_path, "--resources", "campaigns,leads"), env=cli_env, cwd=tmp_path).returncode
        == 0
    )
    done = run_cli(*reset_args(tmp_path, "leads"), env=cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "leads" in done.stdout
    warehouse = Reader("duckdb", str(tmp_path / "w.duckdb"))
    assert "leads" not in warehouse.tables()
    assert warehouse.count_rows("campaigns") == len(world.items("campaigns"))
    state = warehouse.committed_state()
    assert "leads" not in state["sources"]["instantly"]["resources"]
    assert "campaigns" in state["sources"]["instantly"]["resources"]


def test_the_run_after_a_reset_fetches_the_resource_from_its_first_page(tmp_path, cli_env, simulator, world):
    run_cli(*cli_args(tmp_path, "--resources", "campaigns,leads"), env=cli_env, cwd=tmp_path)
    run_cli(*reset_args(tmp_path, "leads"), env=cli_env, cwd=tmp_path)
    simulator.reset_requests()
    assert (
        run_cli(*cli_args(tmp_path, "--resources", "campaigns,leads"), env=cli_env, cwd=tmp_path).returncode
        == 0
    )
    leads_requests = simulator.requests_to(LEADS_PATH)
    assert "starting_after" not in (leads_requests[0].body or {})
    assert Reader("duckdb", str(tmp_path / "w.duckdb")).count_rows("leads") == len(world.items("leads"))


def test_reset_of_an_unknown_resource_exits_2_naming_the_known_ones(tmp_path, cli_env):
    done = run_cli(*reset_args(tmp_path, "leeds"), env=cli_env, cwd=tmp_path)
    assert done.returncode == ExitCode.CONFIG
    assert "leeds" in done.stderr and "leads" in done.stderr


def test_reset_refuses_the_pushed_webhook_events_which_no_sync_can_fetch_again(tmp_path, cli_env, world):
    run_cli(*cli_args(tmp_path, "--resources", "leads"), env=cli_env, cwd=tmp_path)
    done = run_cli(*reset_args(tmp_path, "leads", "webhook_events_pushed"), env=cli_env, cwd=tmp_path)
    assert done.returncode == ExitCode.CONFIG
    assert "webhook_events_pushed is not reset" in done.stderr and "webhooks serve" in done.stderr
    assert Reader("duckdb", str(tmp_path / "w.duckdb")).count_rows("leads") == len(world.items("leads"))


def test_reset_before_any_sync_says_there_is_nothing_to_reset(tmp_path, cli_env):
    done = run_cli(*reset_args(tmp_path, "leads"), env=cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "nothing synced yet" in done.stdout


def test_start_date_bounds_the_first_backfill_of_time_keyed_resources(tmp_path, cli_env, world):
    created = sorted(parse_time(email["timestamp_created"]) for email in world.items("emails"))
    start = created[len(created) // 2]
    done = run_cli(
        *cli_args(tmp_path, "--resources", "emails", "--start-date", start.isoformat(), "--json"),
        env=cli_env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    loaded = Reader("duckdb", str(tmp_path / "w.duckdb")).query(
        "select min(timestamp_created), count(*) from {ds}.emails"
    )
    assert loaded[0][0] >= start
    assert loaded[0][1] == sum(1 for moment in created if moment >= start)
    assert json.loads(done.stdout)["workspaces"][0]["resources"][0]["rows_loaded"] == loaded[0][1]


def test_a_start_date_that_is_not_a_date_exits_2(tmp_path, cli_env):
    done = run_cli(*cli_args(tmp_path, "--start-date", "last tuesday"), env=cli_env, cwd=tmp_path)
    assert done.returncode == ExitCode.CONFIG
    assert "last tuesday" in done.stderr
