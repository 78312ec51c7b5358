"""Airflow DAG: every configured workspace synced by a task of its own (dynamic task mapping), into Postgres.

An agency with hundreds of workspaces spreads them over Airflow's workers: one mapped task per workspace,
each running `instantly-sync run --workspaces <name>` itself, so every task writes the run report (in its
log, as JSON), the `sync_runs` rows and the models exactly as the CLI does, with the CLI's exit codes. The
tasks share the Postgres dataset and sync side by side, taking turns only to touch it (advisory locks, which
every machine sees).

Deploy: `pip install` the project into the Airflow environment (workers and scheduler), copy this file into
the dags folder and `.dlt/config.toml` into `<dags folder>/.dlt/`. Give the workers the secrets as env vars
(SOURCES__INSTANTLY__WORKSPACES as JSON, DESTINATION__POSTGRES__CREDENTIALS) or in `.dlt/secrets.toml`.
Task results and logs hold workspace names, never keys. See pipelines/deploy/README.md.

Each task works in a fresh temporary folder and restores its workspace's state (cursors) from the dataset,
so any worker can take any workspace. Without Airflow installed this module still imports and defines no DAG.
"""

import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines import cli
from pipelines.messages import ExitCode
from pipelines.workspaces import configured_workspaces

try:
    from airflow.sdk import dag, task  # Airflow 3
except ImportError:
    try:
        from airflow.decorators import dag, task  # Airflow 2
    except ImportError:
        dag = task = None

SCHEDULE = "*/30 * * * *"
# a mapped task's run counts as done with these codes: a missing scope (5) is the key's to fix, not a retry's
SUCCEEDED = (ExitCode.OK, ExitCode.PARTIAL)
DAG_ARGS: dict[str, Any] = {
    "dag_id": "instantly_workspaces",
    "schedule": SCHEDULE,
    "start_date": datetime(2024, 1, 1, tzinfo=UTC),
    "catchup": False,  # a sync always fetches everything new: missed intervals need no runs of their own
    "max_active_runs": 1,  # runs of this DAG never overlap
    "dagrun_timeout": timedelta(hours=6),
    "default_args": {"owner": "data", "retries": 1, "retry_delay": timedelta(minutes=10)},
    "params": {"dataset": "instantly"},  # the Postgres schema; `airflow dags test ... -c '{"dataset": ...}'`
    "tags": ["instantly", "dlt"],
}


def workspace_names() -> list[str | None]:
    """The configured workspaces' names (None: the single workspace of `sources.instantly.api_key`). Read
    when the DAG runs, on a worker: the scheduler parsing this file needs no secrets."""
    return [workspace.name for workspace in configured_workspaces()]


def run_arguments(name: str | None, dataset: str, pipelines_dir: str) -> list[str]:
    """The `instantly-sync` command line a task runs for one workspace."""
    argv = ["run", "--destination", "postgres", "--dataset", dataset, "--wait", "--json"]
    argv += ["--pipelines-dir", pipelines_dir]
    return [*argv, "--workspaces", name] if name else argv


def sync_workspace(name: str | None, params: dict[str, Any] | None = None) -> int:
    """One workspace's sync, as `instantly-sync run` does it; a failed run fails the task (and is retried)."""
    dataset = (params or {}).get("dataset") or DAG_ARGS["params"]["dataset"]
    with tempfile.TemporaryDirectory(prefix="instantly-") as pipelines_dir:
        code = cli.main(run_arguments(name, dataset, pipelines_dir))
    if code not in SUCCEEDED:
        raise RuntimeError(f"instantly-sync run for workspace {name or 'default'} exited {code}")
    return code


def instantly_workspaces() -> None:
    names = task(task_id="workspace_names")(workspace_names)()
    task(task_id="sync_workspace")(sync_workspace).expand(name=names)


if dag is not None:
    instantly_workspaces_dag = dag(**DAG_ARGS)(instantly_workspaces)()
