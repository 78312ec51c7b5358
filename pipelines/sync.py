"""One sync run: finish what a crashed run left, then extract-normalize-load in checkpointed slices.

dlt commits resource state only when an extract step finishes, so one long run that dies loses all of it.
Each resource therefore stops its walk after `checkpoint_seconds`; we load that slice (data and cursors in
one package) and run again for the resources whose walk is still in progress, until none is.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.pipeline import LoadInfo
from dlt.pipeline.pipeline import Pipeline

from destinations import Target
from sources.instantly import instantly_source, walk_in_progress
from sources.instantly.endpoints import check_resource_names
from sources.instantly.errors import ConfigError
from sources.instantly.progress import ProgressReporter, RunProgress

from .lock import exclusive

PIPELINE_TABLES = ("_dlt_pipeline_state",)


@dataclass
class SyncOptions:
    target: Target = field(default_factory=Target)
    resources: list[str] | None = None
    full_refresh: bool = False
    pipelines_dir: str | None = None
    wait_for_lock: bool = False
    progress_interval: float = 10.0
    # explicit source arguments (CLI conveniences); everything else comes from dlt config
    source_args: dict[str, Any] = field(default_factory=dict)


@dataclass
class SyncResult:
    pipeline: Pipeline
    progress: RunProgress
    slices: int = 0
    rows_loaded: dict[str, int] = field(default_factory=dict)
    load_infos: list[LoadInfo] = field(default_factory=list)


def make_pipeline(target: Target, pipelines_dir: str | None = None) -> Pipeline:
    return dlt.pipeline(
        pipeline_name=target.pipeline_name,
        destination=target.factory(),
        dataset_name=target.dataset,
        pipelines_dir=pipelines_dir,
    )


def resource_states(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    return pipeline.state.get("sources", {}).get("instantly", {}).get("resources", {})


def run_sync(options: SyncOptions) -> SyncResult:
    options.target.validate()
    names = list(_selected(options.resources))
    progress = RunProgress()
    build_source = _source_builder(options, progress)
    build_source(names)  # resolves and checks the configuration before anything moves
    pipeline = make_pipeline(options.target, options.pipelines_dir)
    result = SyncResult(pipeline=pipeline, progress=progress)
    lock = exclusive(_lock_paths(pipeline, options.target), options.wait_for_lock)
    with lock, ProgressReporter(progress, options.progress_interval):
        _finish_pending(pipeline, result)
        refresh = "drop_resources" if options.full_refresh else None
        while names:
            info = pipeline.run(
                build_source(names),
                loader_file_format=options.target.loader_file_format,
                refresh=refresh,
            )
            refresh = None
            _record(pipeline, info, result)
            states = resource_states(pipeline)
            names = [n for n in names if walk_in_progress(states.get(n, {})) and not progress.of(n).skipped]
    return result


def _selected(resources: list[str] | None):
    try:
        return check_resource_names(resources)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _source_builder(options: SyncOptions, progress: RunProgress):
    def build(names: list[str]):
        try:
            return instantly_source(resources=names, progress=progress, **options.source_args)
        except ConfigFieldMissingException as exc:
            missing = ", ".join(exc.fields)
            raise ConfigError(
                f"missing configuration: {missing}. Set SOURCES__INSTANTLY__API_KEY (or `api_key` under "
                "[sources.instantly] in .dlt/secrets.toml)"
            ) from None

    return build


def _finish_pending(pipeline: Pipeline, result: SyncResult) -> None:
    """Load packages a crashed run extracted but did not load, before extracting anything new.

    Their cursors are already in local state; dropping them would lose rows, extracting first would
    leave `pipeline.run` loading them and skipping the new extract.
    """
    if pipeline.has_pending_data:
        pipeline.normalize()
        info = pipeline.load()
        _record(pipeline, info, result)


def _record(pipeline: Pipeline, info: LoadInfo, result: SyncResult) -> None:
    info.raise_on_failed_jobs()
    result.slices += 1
    result.load_infos.append(info)
    normalize_info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    for table, count in (normalize_info.row_counts if normalize_info else {}).items():
        if not table.startswith("_dlt"):
            result.rows_loaded[table] = result.rows_loaded.get(table, 0) + count


def _lock_paths(pipeline: Pipeline, target: Target) -> list[Path]:
    paths = [Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.lock"]
    if target.destination == "duckdb":
        paths.append(Path(f"{target.lock_name}.lock"))
    return paths
