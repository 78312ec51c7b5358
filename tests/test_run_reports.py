"""Every run is reported: per resource and workspace, in a `sync_runs` table, on stdout, and as JSON; and
`check --max-age` turns that table into an alarm."""

import json

import dlt
import duckdb

from destinations import Target
from pipelines.cli import ExitCode
from pipelines.runs import RUNS_COLUMNS, RUNS_SCHEMA, RUNS_TABLE, runs_pipeline_name

from .conftest import cli_args, run_cli
from .killing import Reader

CORE = "campaigns,accounts,leads"


def sync_runs(tmp_path) -> list[dict]:
    reader = Reader("duckdb", str(tmp_path / "w.duckdb"))
    columns = reader.columns("sync_runs")
    rows = reader.query("select * from {ds}.sync_runs order by started_at, resource")
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_each_run_appends_one_row_per_resource_with_its_counters(tmp_path, cli_env, world):
    assert run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path).returncode == 0
    assert run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path).returncode == 0
    rows = sync_runs(tmp_path)
    assert len({row["run_id"] for row in rows}) == 2
    first = {row["resource"]: row for row in rows[:3]}
    assert sorted(first) == ["accounts", "campaigns", "leads"]
    for name, row in first.items():
        assert row["status"] == "ok" and row["error"] is None
        assert row["rows_extracted"] == row["rows_loaded"] == len(world.items(name))
        assert row["requests"] >= row["pages"] >= 1
        assert row["finished_at"] >= row["started_at"]
    second_leads = next(r for r in rows[3:] if r["resource"] == "leads")
    assert second_leads["rows_loaded"] == 0  # nothing changed: nothing written again
    assert second_leads["cursor_before"] == first["leads"]["cursor_after"] is not None


def test_the_rows_a_run_found_deleted_are_counted_in_the_report_and_sync_runs(tmp_path, cli_env, world):
    assert run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path).returncode == 0
    world.remove("leads", world.ids("leads")[:4])
    second = run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    (leads_line,) = [line for line in second.stdout.splitlines() if line.strip().startswith("leads ")]
    assert " deleted=4 " in leads_line
    counts = {(row["run_id"], row["resource"]): row["rows_deleted"] for row in sync_runs(tmp_path)}
    assert sorted(counts.values()) == [0, 0, 0, 0, 0, 4]


def test_rows_a_killed_run_left_unloaded_are_recorded_beside_the_next_runs_own(tmp_path, cli_env):
    """A run killed while recording leaves its rows extracted but not loaded; dlt's `run` would load them and
    drop the new ones."""
    assert run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path).returncode == 0
    killed = [
        {**{k: v for k, v in row.items() if not k.startswith("_dlt_")}, "run_id": "killed-run"}
        for row in sync_runs(tmp_path)
    ]
    target = Target(duckdb_path=str(tmp_path / "w.duckdb"))
    pipeline = dlt.pipeline(
        runs_pipeline_name(target),
        destination=target.factory(),
        dataset_name=target.dataset,
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    rows = dlt.resource(killed, name=RUNS_TABLE, write_disposition="append", columns=RUNS_COLUMNS)
    pipeline.extract(rows, schema=dlt.Schema(RUNS_SCHEMA))
    pipeline.normalize()

    assert run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path).returncode == 0

    runs = {}
    for row in sync_runs(tmp_path):
        runs.setdefault(row["run_id"], []).append(row["resource"])
    assert len(runs) == 3 and sorted(runs["killed-run"]) == ["accounts", "campaigns", "leads"]
    assert all(sorted(resources) == ["accounts", "campaigns", "leads"] for resources in runs.values())


def test_a_failed_run_is_recorded_with_its_error(tmp_path, cli_env):
    env = {**cli_env, "SOURCES__INSTANTLY__API_KEY": "wrong-key"}
    done = run_cli(*cli_args(tmp_path, "--resources", CORE), env=env, cwd=tmp_path)
    assert done.returncode == ExitCode.AUTH
    rows = sync_runs(tmp_path)
    assert {row["status"] for row in rows} == {"failed"}
    assert all("API key was rejected" in row["error"] for row in rows)
    assert "wrong-key" not in json.dumps(rows, default=str)


def test_json_report_is_one_object_per_run_with_the_same_figures(tmp_path, cli_env, world):
    done = run_cli(*cli_args(tmp_path, "--resources", CORE, "--json"), env=cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["exit_code"] == 0
    (workspace,) = report["workspaces"]
    assert workspace["status"] == "ok"
    loaded = {row["resource"]: row["rows_loaded"] for row in workspace["resources"]}
    assert loaded == {name: len(world.items(name)) for name in CORE.split(",")}
    assert report["run_id"] == sync_runs(tmp_path)[0]["run_id"]


def test_human_report_names_each_resource_with_its_counters(tmp_path, cli_env):
    done = run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path)
    assert "1 of 1 workspace(s) synced" in done.stdout
    assert "leads" in done.stdout and "loaded=230" in done.stdout


def check(tmp_path, cli_env, max_age: str):
    return run_cli(
        "check",
        *("--duckdb-path", str(tmp_path / "w.duckdb"), "--pipelines-dir", str(tmp_path / "pipelines")),
        *("--max-age", max_age),
        env=cli_env,
        cwd=tmp_path,
    )


def test_check_passes_right_after_a_sync(tmp_path, cli_env):
    run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path)
    done = check(tmp_path, cli_env, "2h")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 of 3 resource(s) older than 2h" in done.stdout


def test_check_fails_when_the_last_successful_sync_is_older_than_the_max_age(tmp_path, cli_env):
    run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        connection.execute(
            "update instantly.sync_runs set finished_at = finished_at - interval 3 hour "
            "where resource = 'leads'"
        )
    done = check(tmp_path, cli_env, "2h")
    assert done.returncode == ExitCode.STALE
    assert "STALE default/leads" in done.stdout
    assert "fresh default/campaigns" in done.stdout


def test_check_fails_when_a_resource_failed_ever_since_its_last_success(tmp_path, cli_env):
    run_cli(*cli_args(tmp_path, "--resources", CORE), env=cli_env, cwd=tmp_path)
    wrong_key = {**cli_env, "SOURCES__INSTANTLY__API_KEY": "wrong-key"}
    assert run_cli(*cli_args(tmp_path, "--resources", CORE), env=wrong_key, cwd=tmp_path).returncode == 3
    assert check(tmp_path, cli_env, "1h").returncode == 0  # the failed run does not erase the good one
    assert check(tmp_path, cli_env, "0s").returncode == ExitCode.STALE


def test_check_fails_when_nothing_was_ever_recorded(tmp_path, cli_env):
    done = check(tmp_path, cli_env, "2h")
    assert done.returncode == ExitCode.STALE
    assert "no sync is recorded" in done.stderr


def test_check_rejects_a_max_age_that_is_not_a_duration(tmp_path, cli_env):
    done = check(tmp_path, cli_env, "two hours")
    assert done.returncode == ExitCode.CONFIG
    assert "like 90s, 30m, 2h" in done.stderr
