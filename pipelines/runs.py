"""One command, every configured workspace: parallel syncs, each failure kept to its workspace, and a report
of the run written to the `sync_runs` table of each dataset it touched.

Each workspace syncs through its own dlt pipeline (its own state and cursors) with its own rate limiter (the
API's limits are per workspace), in a worker process of its own (`pipelines.jobs`; `--jobs` at once), or with
`--jobs 1` one after another in the command's process. They share the dataset's locks, taken once for the
whole command, and take turns only where they touch the dataset (`pipelines.lock.turn`).
"""

import inspect
import json
import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import dlt
from dlt.common.pipeline import get_dlt_pipelines_dir

from destinations import Target, models
from sources.instantly import configured_rate_limits, current_workspace_id, settings
from sources.instantly.errors import InstantlyError, ResourcesFailed
from sources.instantly.progress import RunProgress

from .jobs import WorkerDied, configured_jobs, run_in_workers
from .lock import datasets_locked, turn
from .messages import ExitCode, describe_error, quiet_dlt_pool_shutdown
from .resume import restart_unfinished_loads
from .sync import (
    SyncOptions,
    SyncResult,
    check_configuration,
    make_pipeline,
    remove_orphan_extracts,
    run_sync,
    selected_resources,
)
from .workspaces import Workspace

logger = logging.getLogger(__name__)

_LIMIT_ARGUMENTS = inspect.signature(configured_rate_limits).parameters
RUNS_TABLE = "sync_runs"
RUNS_PIPELINE_SUFFIX = "_runs"
RUNS_SCHEMA = "instantly_runs"
RUNS_COLUMNS = {
    "run_id": {"data_type": "text", "nullable": False},
    "workspace_name": {"data_type": "text", "nullable": False},
    "workspace_id": {"data_type": "text"},
    "resource": {"data_type": "text", "nullable": False},
    "status": {"data_type": "text", "nullable": False},
    "started_at": {"data_type": "timestamp", "nullable": False},
    "finished_at": {"data_type": "timestamp", "nullable": False},
    "duration_seconds": {"data_type": "double"},
    "requests": {"data_type": "bigint"},
    "pages": {"data_type": "bigint"},
    "rows_extracted": {"data_type": "bigint"},
    "rows_loaded": {"data_type": "bigint"},
    "rejected": {"data_type": "bigint"},
    "retries": {"data_type": "bigint"},
    "parents_skipped": {"data_type": "bigint"},
    "rows_deleted": {"data_type": "bigint"},
    "arrow_batches": {"data_type": "bigint"},
    "dict_batches": {"data_type": "bigint"},
    "cursor_before": {"data_type": "text"},
    "cursor_after": {"data_type": "text"},
    "error": {"data_type": "text"},
    "warnings": {"data_type": "text"},
}


@dataclass
class WorkspaceRun:
    """One workspace's part of a run: its target, and either its result or the error that stopped it."""

    workspace: Workspace
    target: Target
    progress: RunProgress = field(default_factory=RunProgress)
    workspace_id: str | None = None
    result: SyncResult | None = None
    error: BaseException | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None

    @property
    def dataset(self) -> Target:
        """The dataset the workspace writes, whichever workspace writes it."""
        return replace(self.target, workspace=None)

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code if isinstance(self.error, InstantlyError) else ExitCode.FAILED
        if self.progress.failed():
            return ExitCode.RESOURCES_FAILED
        return ExitCode.PARTIAL if self.progress.skipped() else ExitCode.OK


class WorkspaceFailed(InstantlyError):
    """A workspace's error as a worker process saw it, brought back to the command as its one line and exit
    code (the error itself may not pickle, and pickling drops the chain `describe_error` reads)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code

    def __reduce__(self) -> tuple[type, tuple[str, int]]:
        return WorkspaceFailed, (str(self), self.exit_code)


@dataclass
class RunReport:
    run_id: str
    resources: list[str]
    workspaces: list[WorkspaceRun]
    models: list[str] = field(default_factory=list)  # what refreshing each dataset's models did

    @property
    def exit_code(self) -> int:
        """The first failed workspace's code; else 7 when any resource failed, 5 when any was skipped (the
        key lacks its scope); else 0."""
        codes = [w.exit_code for w in self.workspaces]
        partial = (ExitCode.RESOURCES_FAILED, ExitCode.PARTIAL)
        failed = next((code for code in codes if code not in (ExitCode.OK, *partial)), None)
        return failed if failed is not None else next((c for c in partial if c in codes), ExitCode.OK)


def run_workspaces(
    options: SyncOptions,
    workspaces: list[Workspace],
    separate_datasets: bool = False,
    jobs: str | int | None = None,
) -> RunReport:
    """Sync every workspace, `jobs` at once (`pipelines.jobs.configured_jobs`; configuration checked first),
    record the run in `sync_runs`, and rebuild the analytics models of each dataset that received data.

    A workspace that fails (a wrong key, an API fault that does not clear) is reported and recorded; the
    others go on. Errors that concern the whole command (bad flags, the destination unreachable, another
    sync holding the dataset) are raised.
    """
    options.target.validate()
    resources = list(selected_resources(options.resources))
    runs = [WorkspaceRun(w, workspace_target(options.target, w, separate_datasets)) for w in workspaces]
    jobs = configured_jobs(jobs, len(runs))
    for run in runs:  # a configuration error fails the command before anything moves (exit 2)
        check_configuration(replace(options, source_args=_source_args(run.workspace, options)))
    datasets = list({run.dataset: None for run in runs})
    targets = [run.target for run in runs]
    with datasets_locked(targets, options.wait_for_lock, shared=not options.full_refresh, pipelines=targets):
        if jobs == 1:
            for run in runs:
                _sync_workspace(run, options, label=run.workspace.label if len(runs) > 1 else "")
        else:
            runs = _sync_in_workers(runs, options, jobs)
        report = RunReport(run_id=str(uuid.uuid4()), resources=resources, workspaces=runs)
        for dataset in datasets:
            in_dataset = [run for run in runs if run.dataset == dataset]
            with turn(dataset):  # other commands may sync workspaces of the dataset meanwhile
                _record(dataset, in_dataset, report, options)
                synced = next((run.result.pipeline for run in in_dataset if run.result), None)
                if synced is not None:
                    report.models.append(models.refresh(synced).summary())
    if len(runs) == 1 and runs[0].error is not None:
        raise runs[0].error  # with one workspace, its error is the command's, as it always was
    return report


def workspace_target(base: Target, workspace: Workspace, separate_datasets: bool) -> Target:
    """Where a workspace's sync writes: the shared dataset, or its own `<dataset>_<name>`."""
    if workspace.name is None:
        return base
    dataset = f"{base.dataset}_{workspace.name}" if separate_datasets else base.dataset
    return replace(base, dataset=dataset, workspace=workspace.name)


def _source_args(workspace: Workspace, options: SyncOptions) -> dict[str, Any]:
    """The command's source arguments, with a configured workspace's key and base URL."""
    source_args = dict(options.source_args)
    if workspace.name is not None:
        source_args["api_key"] = workspace.api_key
        if workspace.base_url:
            source_args["base_url"] = workspace.base_url
    return source_args


def _sync_in_workers(runs: list[WorkspaceRun], options: SyncOptions, jobs: int) -> list[WorkspaceRun]:
    """Each workspace synced in a worker process (`pipelines.jobs`), as they come back; a workspace whose
    worker died fails with that, and the pipeline of each that synced is opened here for the models."""
    outcomes = run_in_workers(_sync_in_worker, [(run, options) for run in runs], jobs)
    done = []
    for run, outcome in zip(runs, outcomes, strict=True):
        if isinstance(outcome, WorkerDied):
            run.error = WorkspaceFailed(
                f"the worker process syncing it died ({outcome.reason}); the next run resumes it from its "
                "last checkpoint",
                ExitCode.FAILED,
            )
            run.started_at, run.finished_at = outcome.started_at, outcome.ended_at
            outcome = run
        elif outcome.result is not None:
            outcome.result.pipeline = make_pipeline(outcome.target, options.pipelines_dir)
        done.append(outcome)
    return done


def _sync_in_worker(task: tuple[WorkspaceRun, SyncOptions]) -> WorkspaceRun:
    """A worker process's part: sync one workspace and send its run back, its error as a `WorkspaceFailed`."""
    run, options = task
    quiet_dlt_pool_shutdown()
    _sync_workspace(run, options, run.workspace.label)
    if run.error is not None:
        run.error = WorkspaceFailed(describe_error(run.error), run.exit_code)
    return run


def _sync_workspace(run: WorkspaceRun, options: SyncOptions, label: str) -> None:
    workspace = run.workspace
    run.started_at = datetime.now(UTC)
    try:
        source_args = _source_args(workspace, options)
        if workspace.name is not None:
            base_url = (
                source_args.get("base_url")
                or dlt.config.get("sources.instantly.base_url", str)
                or settings.DEFAULT_BASE_URL
            )
            limit_args = {k: v for k, v in source_args.items() if k in _LIMIT_ARGUMENTS}
            run.workspace_id = current_workspace_id(
                workspace.api_key, base_url, configured_rate_limits(**limit_args)
            )
            source_args.update(workspace_id=run.workspace_id, workspace_name=workspace.name)
        run.result = run_sync(
            replace(
                options,
                target=run.target,
                source_args=source_args,
                dataset_locked=True,
                progress=run.progress,
                progress_label=label,
            )
        )
    except ResourcesFailed as exc:  # every resource failed, after committing what it had fetched
        run.result, run.error = exc.result, exc
    except Exception as exc:  # one workspace's failure is reported; the others go on
        run.error = exc
    finally:
        run.finished_at = datetime.now(UTC)


def _record(target: Target, runs: list[WorkspaceRun], report: RunReport, options: SyncOptions) -> None:
    """Append the run's rows to `sync_runs`, through a pipeline (and schema) of its own, so the report never
    touches the sync's state or schema. Failed runs are recorded too; when even that fails (the destination
    is the problem), the workspaces' own errors are what the user needs to see, and the recording error
    only when every workspace succeeded."""
    recorded = [run for run in runs if run.exit_code != ExitCode.CONFIG]  # those never started
    if not recorded:
        return
    try:
        _append_runs(target, [row for run in recorded for row in run_rows(run, report)], options)
    except Exception as exc:
        if all(run.error is None for run in runs):
            raise
        logger.warning("instantly-sync: could not record the run in %s: %s", RUNS_TABLE, describe_error(exc))


def runs_pipeline_name(target: Target) -> str:
    """One pipeline per dataset writes `sync_runs`, whichever workspaces the dataset holds."""
    return replace(target, workspace=None).pipeline_name + RUNS_PIPELINE_SUFFIX


def _append_runs(target: Target, rows: list[dict[str, Any]], options: SyncOptions) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=runs_pipeline_name(target),
        destination=target.factory(),
        dataset_name=target.dataset,
        pipelines_dir=options.pipelines_dir or get_dlt_pipelines_dir(),
    )
    # what a killed run of this pipeline left: half-done folders, and rows extracted but not loaded, which
    # `run` would load instead of extracting these (we hold the dataset's locks, so nothing else runs here)
    remove_orphan_extracts(pipeline)
    if pipeline.has_pending_data:
        pipeline.normalize()
        restart_unfinished_loads(pipeline)  # a copy that committed unrecorded would repeat its rows
        pipeline.load().raise_on_failed_jobs()
    resource = dlt.resource(rows, name=RUNS_TABLE, write_disposition="append", columns=RUNS_COLUMNS)
    pipeline.run(resource, schema=dlt.Schema(RUNS_SCHEMA)).raise_on_failed_jobs()


def run_rows(run: WorkspaceRun, report: RunReport) -> list[dict[str, Any]]:
    """One row per selected resource of one workspace's run."""
    result = run.result
    before = result.states_before if result else {}
    after = result.states_after if result else {}
    rows = []
    for resource in report.resources:
        stats = run.progress.resources.get(resource)
        failed_alone = stats.failed if stats else None
        skipped = stats.skipped if stats else None
        not_in_plan = stats.not_in_plan if stats else None
        stopped = run.error is not None and result is None  # the run never got through its resources
        if stopped or failed_alone:
            status = "failed"
        else:
            status = "skipped" if skipped else "not_in_plan" if not_in_plan else "ok"
        rows.append(
            {
                "run_id": report.run_id,
                "workspace_name": run.workspace.label,
                "workspace_id": run.workspace_id,
                "resource": resource,
                "status": status,
                "started_at": run.started_at,
                "finished_at": run.finished_at,
                "duration_seconds": round(stats.seconds, 3) if stats else 0.0,
                "requests": stats.requests if stats else 0,
                "pages": stats.pages if stats else 0,
                "rows_extracted": stats.rows_fetched if stats else 0,
                "rows_loaded": result.rows_loaded.get(resource, 0) if result else 0,
                "rejected": stats.rejected if stats else 0,
                "retries": stats.retries if stats else 0,
                "parents_skipped": stats.parents_skipped if stats else 0,
                "rows_deleted": stats.deleted if stats else 0,
                "arrow_batches": stats.arrow_batches if stats else 0,
                "dict_batches": stats.dict_batches if stats else 0,
                "cursor_before": cursor_summary(before.get(resource)),
                "cursor_after": cursor_summary(after.get(resource)),
                "error": failed_alone or (describe_error(run.error) if stopped else skipped or not_in_plan),
                "warnings": "; ".join(stats.warnings) if stats and stats.warnings else None,
            }
        )
    return rows


def cursor_summary(state: dict[str, Any] | None) -> str | None:
    """Where a resource stands, in a few fields: its high-water mark, the page a walk resumes after, and the
    oldest day its daily reports are complete through."""
    if not state:
        return None
    summary: dict[str, Any] = {}
    if "mark" in state:
        summary["mark"] = state["mark"]
    if state.get("walk"):
        summary["resume_after"] = state["walk"].get("cursor")
    if state.get("fetched_through"):
        summary["fetched_through"] = min(state["fetched_through"].values())
    return json.dumps(summary, default=str, sort_keys=True) if summary else None
