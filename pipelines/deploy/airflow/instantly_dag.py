"""Airflow DAG: sync the Instantly workspace into Postgres with dlt's Airflow helper (`PipelineTasksGroup`).

Deploy: `pip install` the project into the Airflow environment (workers and scheduler), copy this file into
the dags folder and `.dlt/config.toml` into `<dags folder>/.dlt/`. Give the workers the secrets as env vars
(SOURCES__INSTANTLY__API_KEY, DESTINATION__POSTGRES__CREDENTIALS) or as the Airflow Variable
`dlt_secrets_toml` holding a secrets.toml. See pipelines/deploy/README.md.

The pipeline is the CLI's own (`make_pipeline`): same name, dataset and destination, so cursors are shared
with `instantly-sync run --destination postgres` through the state dlt keeps in the dataset. Each task starts
in a fresh, wiped working folder and restores that state from Postgres.

Without Airflow installed this module still imports (for tests) and defines no DAG.
"""

from datetime import UTC, datetime, timedelta

import dlt

from destinations import Target, models
from pipelines.sync import make_pipeline
from sources.instantly import instantly_source

try:
    from dlt.helpers.airflow_helper import PipelineTasksGroup  # raises an ImportError without Airflow

    try:
        from airflow.sdk import dag, task  # Airflow 3
    except ImportError:
        from airflow.decorators import dag, task  # Airflow 2
except ImportError:
    PipelineTasksGroup = dag = task = None

TARGET = Target(destination="postgres")
SCHEDULE = "*/30 * * * *"
DAG_ARGS = {
    "dag_id": "instantly_sync",
    "schedule": SCHEDULE,
    "start_date": datetime(2024, 1, 1, tzinfo=UTC),
    "catchup": False,  # a sync always fetches everything new: missed intervals need no runs of their own
    "max_active_runs": 1,  # runs of this DAG never overlap
    "dagrun_timeout": timedelta(hours=6),
    "default_args": {"owner": "data", "retries": 1, "retry_delay": timedelta(minutes=10)},
    "tags": ["instantly", "dlt"],
}


def build_pipeline(target: Target = TARGET, pipelines_dir: str | None = None) -> dlt.Pipeline:
    """The pipeline `instantly-sync run` uses for `target`. Under Airflow, create it after the
    `PipelineTasksGroup`, which points dlt's data folder at a fresh temporary folder."""
    return make_pipeline(target, pipelines_dir)


def build_source():
    """The source with every setting from dlt config. Called when the task runs, on the worker, so the
    scheduler parsing this file needs no API key."""
    return instantly_source()


def refresh_models() -> str:
    """Rebuild the analytics models in the dataset, as `instantly-sync run` does after a sync."""
    summary = models.refresh(build_pipeline()).summary()
    print(summary)
    return summary


def instantly_sync() -> None:
    tasks = PipelineTasksGroup(
        TARGET.pipeline_name,
        use_data_folder=False,
        wipe_local_data=True,  # the state lives in Postgres; nothing local outlives a task
        use_task_logger=True,
    )
    # One task runs one slice: each resource walks for at most checkpoint_seconds, then the slice loads with
    # its cursors. A backfill longer than that carries on in the next DAG run; incremental runs fit in one.
    tasks.add_run(
        build_pipeline(),
        build_source,
        decompose="none",  # one task: the resources share rate limits and the leads/emails cursors
        loader_file_format=TARGET.loader_file_format,
    )
    tasks >> task(task_id="refresh_models")(refresh_models)()


if dag is not None:
    instantly_sync_dag = dag(**DAG_ARGS)(instantly_sync)()
