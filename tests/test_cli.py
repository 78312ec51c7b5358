"""The `instantly-sync` command as a user runs it: a real process against the simulator."""

import time
from pathlib import Path

from pipelines.messages import ExitCode
from sources.simulator import Fault

from .conftest import cli_args, run_cli

SECRET_LOOKING_KEY = "wrong-key-6f1c2a9d8e7b"


def test_run_loads_the_five_tables_and_prints_a_summary(tmp_path, cli_env):
    done = run_cli(*cli_args(tmp_path), env=cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for table in ("campaigns", "accounts", "leads", "emails", "audit_logs"):
        assert table in done.stdout


def test_wrong_key_exits_3_with_a_clear_message_that_never_shows_the_key(tmp_path, cli_env):
    env = {**cli_env, "SOURCES__INSTANTLY__API_KEY": SECRET_LOOKING_KEY}
    done = run_cli(*cli_args(tmp_path), env=env, cwd=tmp_path)
    assert done.returncode == 3
    assert "API key was rejected" in done.stderr
    assert "SOURCES__INSTANTLY__API_KEY" in done.stderr
    assert SECRET_LOOKING_KEY not in done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_key_exits_2_and_says_how_to_provide_one(tmp_path, cli_env):
    env = {k: v for k, v in cli_env.items() if k != "SOURCES__INSTANTLY__API_KEY"}
    done = run_cli(*cli_args(tmp_path), env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert "SOURCES__INSTANTLY__API_KEY" in done.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_unknown_resource_exits_2_naming_the_known_ones(tmp_path, cli_env):
    done = run_cli(*cli_args(tmp_path, "--resources", "leads,leeds"), env=cli_env, cwd=tmp_path)
    assert done.returncode == 2
    assert "leeds" in done.stderr and "campaigns" in done.stderr


def test_key_lacking_one_scope_gives_a_partial_sync_exiting_5(tmp_path, cli_env, simulator, world):
    simulator.add_key("campaigns-only-key", world, scopes=("campaigns:read",))
    env = {**cli_env, "SOURCES__INSTANTLY__API_KEY": "campaigns-only-key"}
    done = run_cli(*cli_args(tmp_path, "--resources", "campaigns,leads"), env=env, cwd=tmp_path)
    assert done.returncode == 5, done.stderr
    assert "PARTIAL" in done.stdout
    assert "leads" in done.stdout and "leads:read" in done.stdout
    assert "skipping leads" in done.stderr


def test_a_fault_that_does_not_clear_exits_1_naming_the_endpoint(tmp_path, cli_env, simulator):
    simulator.faults.add(Fault(path="/api/v2/audit-logs", kind="status", status=502, times=1000))
    env = {**cli_env, "SOURCES__INSTANTLY__MAX_ATTEMPTS": "2"}
    done = run_cli(*cli_args(tmp_path, "--resources", "audit_logs"), env=env, cwd=tmp_path)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert "GET /api/v2/audit-logs" in line and line.endswith("the next run resumes from the last checkpoint")


def test_a_run_stopped_midway_names_the_failure_and_what_to_do_never_that_the_process_may_hang(
    tmp_path, cli_env, simulator
):
    """The key is revoked midway through the leads walk while audit_logs still waits for an answer, longer
    than dlt waits for its extract threads to stop (2 s): dlt then logs that the process "will most probably
    lock indefinitely"."""

    slow = Fault(path="/api/v2/audit-logs", kind="slow", delay=5, times=1)

    def revoke_the_key_once_audit_logs_waits(body: bytes) -> bytes:
        waiting = time.monotonic() + 10
        while not slow.fired and time.monotonic() < waiting:  # the resources start in no fixed order
            time.sleep(0.01)
        simulator.revoke_key(simulator.api_key)
        return body

    revoke = revoke_the_key_once_audit_logs_waits
    simulator.faults.add(Fault(path="/api/v2/leads/list", kind="rewrite", body=revoke, times=1))
    simulator.faults.add(slow)
    done = run_cli(*cli_args(tmp_path, "--resources", "leads,audit_logs"), env=cli_env, cwd=tmp_path)
    assert done.returncode == ExitCode.AUTH
    assert slow.fired == 1
    (line,) = done.stderr.strip().splitlines()
    assert "HTTP 401 from POST /api/v2/leads/list" in line and "SOURCES__INSTANTLY__API_KEY" in line


def test_status_shows_last_load_rows_and_cursors(tmp_path, cli_env):
    assert run_cli(*cli_args(tmp_path), env=cli_env, cwd=tmp_path).returncode == 0
    status_args = [
        "status",
        "--duckdb-path",
        str(tmp_path / "w.duckdb"),
        "--pipelines-dir",
        str(tmp_path / "pipelines"),
    ]
    done = run_cli(*status_args, env=cli_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "last load:" in done.stdout
    assert "leads" in done.stdout and "mark=" in done.stdout


def test_second_run_while_the_first_holds_the_lock_exits_4(tmp_path, cli_env):
    from destinations import Target
    from pipelines.lock import exclusive
    from pipelines.sync import make_pipeline

    target = Target(duckdb_path=str(tmp_path / "w.duckdb"))
    pipeline = make_pipeline(target, str(tmp_path / "pipelines"))
    with exclusive([Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.lock"], wait=False):
        done = run_cli(*cli_args(tmp_path), env=cli_env, cwd=tmp_path)
    assert done.returncode == 4
    assert "another sync is running" in done.stderr


def test_duckdb_file_named_like_the_dataset_is_refused_before_any_request(tmp_path, cli_env, simulator):
    done = run_cli("run", "--duckdb-path", str(tmp_path / "instantly.duckdb"), env=cli_env, cwd=tmp_path)
    assert done.returncode == 2
    assert "share a name" in done.stderr
    assert simulator.requests == []


def test_workspace_without_a_paid_plan_exits_3_saying_so(tmp_path, cli_env, world):
    world.plan_active = False
    done = run_cli(*cli_args(tmp_path, "--resources", "campaigns"), env=cli_env, cwd=tmp_path)
    assert done.returncode == 3
    assert "no active paid plan" in done.stderr


def test_demo_serves_the_simulator_and_loads_every_table(tmp_path):
    done = run_cli("demo", "--duckdb-path", str(tmp_path / "demo.duckdb"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for table in ("campaigns", "accounts", "leads", "emails", "audit_logs", "campaign_analytics_daily"):
        assert f"\n{table} " in done.stdout
    assert "reply rate" in done.stdout
    assert (tmp_path / "demo.duckdb").exists()
