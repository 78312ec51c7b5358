"""One sync run: finish what a crashed run left, then extract-normalize-load in checkpointed slices.

dlt commits resource state only when an extract step finishes, so one long run that dies loses all of it.
Each resource therefore stops its walk after `checkpoint_seconds`; we load that slice (data and cursors in
one package) and run again for the resources whose walk is still in progress, until none is.

The order of a run is what makes a SIGKILL at any moment harmless (tests/test_crash_resume.py): the
configuration and the destination are checked before anything is fetched; the lock is taken before dlt
opens the working folder; folders of killed extracts are removed; packages a killed run extracted but did
not load are loaded before `Pipeline.run`, whose sync with the destination would otherwise wipe them, with
their cursors, while the dataset does not exist yet (a crash before the first load completed).
"""

import copy
import ctypes
import gc
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
import pyarrow
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.pipeline import LoadInfo, NormalizeInfo, get_dlt_pipelines_dir
from dlt.common.storages import NormalizeStorage
from dlt.extract import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.pipeline.pipeline import Pipeline

from destinations import Target, deletions, duckdb_memory, history, models, opening, split_numbers
from sources.instantly import instantly_source, settings, walk_in_progress
from sources.instantly.columns import number_columns
from sources.instantly.deletions import MARKED_TABLES, complete_walks
from sources.instantly.endpoints import FAN_OUT_PARENTS, check_resource_names
from sources.instantly.errors import ConfigError, ResourcesFailed
from sources.instantly.progress import ProgressReporter, RunProgress

from .lock import datasets_locked, exclusive, turn
from .resume import restart_unfinished_loads

PIPELINE_TABLES = ("_dlt_pipeline_state",)
logger = logging.getLogger(__name__)


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
    # the caller already holds the dataset's locks (several workspaces of one command share a dataset)
    dataset_locked: bool = False
    # counters of the run; the caller keeps them even when the run fails
    progress: RunProgress = field(default_factory=RunProgress)
    progress_label: str = ""


@dataclass
class SyncResult:
    pipeline: Pipeline
    progress: RunProgress
    slices: int = 0
    rows_loaded: dict[str, int] = field(default_factory=dict)
    load_infos: list[LoadInfo] = field(default_factory=list)
    # each resource's state (cursors, high-water marks) before and after the run
    states_before: dict[str, dict[str, Any]] = field(default_factory=dict)
    states_after: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, Any]:
        """A worker process sends its result back without the pipeline, which the command opens itself
        (`make_pipeline`), and without dlt's load infos, which hold it."""
        return {**self.__dict__, "pipeline": None, "load_infos": []}


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
    names = list(selected_resources(options.resources))
    progress = options.progress
    build_source = _source_builder(options, progress)
    build_source(names)  # resolves and checks the configuration before anything moves
    pipelines_dir = options.pipelines_dir or get_dlt_pipelines_dir()
    wait = options.wait_for_lock
    # Lock before dlt opens the working folder: creating a Pipeline object already writes its state file.
    with (
        exclusive([pipeline_lock_path(pipelines_dir, options.target)], wait),
        nullcontext()
        if options.dataset_locked
        else datasets_locked(
            [options.target], wait, shared=not options.full_refresh, pipelines=[options.target]
        ),
    ):
        pipeline = make_pipeline(options.target, pipelines_dir)
        result = SyncResult(pipeline=pipeline, progress=progress)
        with (
            ProgressReporter(progress, options.progress_interval, label=options.progress_label),
            fewer_garbage_collections(),
        ):
            remove_orphan_extracts(pipeline)
            _run_slices(pipeline, options, names, build_source, result)
    _raise_if_nothing_synced(progress, names, result)
    return result


def _raise_if_nothing_synced(progress: RunProgress, names: list[str], result: SyncResult) -> None:
    """A run in which every resource that fetched anything failed has failed, whatever it committed of
    them (their cursors resume them): say so as an error, not as a partial sync."""
    fetched = {name: progress.resources[name] for name in names if name in progress.resources}
    failed = {name: stats.failed for name, stats in fetched.items() if stats.failed}
    if failed and all(not stats.ok for stats in fetched.values()):
        first = next(stats.failure for stats in fetched.values() if stats.failed)
        raise ResourcesFailed(failed, result) from first


def _run_slices(
    pipeline: Pipeline,
    options: SyncOptions,
    names: list[str],
    build_source: Callable[[list[str]], DltSource],
    result: SyncResult,
) -> None:
    progress = result.progress
    refresh = "drop_resources" if options.full_refresh else None
    with turn(options.target):  # what dlt and we read and alter at the destination before extracting
        check_destination(pipeline, options.target)
        _finish_pending(pipeline, options.target, result)
        _warn_if_dlt_will_discard_state(pipeline)
        pipeline.sync_destination()
        _fold_split_numbers(pipeline)
        if refresh:
            models.drop_views(pipeline)
    result.states_before = copy.deepcopy(resource_states(pipeline))
    selected = list(names)
    while names:
        # extract and normalize run beside other workspaces' syncs; loads into one dataset take turns
        pipeline.extract(
            build_source(names), refresh=refresh, loader_file_format=options.target.loader_file_format
        )
        refresh = None
        normalized = pipeline.normalize()
        release_freed_memory()
        with turn(options.target):  # one turn for the load and what follows it: each turn costs a wait
            _load(pipeline, options.target, normalized, result)
            _mark_deleted(pipeline, progress, selected)
        states = resource_states(pipeline)
        names = [n for n in names if walk_in_progress(states.get(n, {})) and progress.of(n).ok]
    progress.mark_orphans(selected, FAN_OUT_PARENTS)
    result.states_after = copy.deepcopy(resource_states(pipeline))


def _mark_deleted(pipeline: Pipeline, progress: RunProgress, selected: list[str]) -> None:
    """After a load: the rows that walks which reached their end whole in it did not meet are marked deleted
    (or removed), and those they met again live (`destinations.deletions`). Every such table has the
    `_deleted_at` column the models filter on, synced in this run or not. The caller holds the dataset's
    turn."""
    for swept in deletions.sweep(pipeline, complete_walks(progress, selected), MARKED_TABLES):
        stats = progress.of(swept.table)
        stats.deleted += swept.found_gone
        if swept.error:
            stats.warn(f"its deleted rows were not marked ({swept.error}); the next complete walk marks them")


def selected_resources(resources: list[str] | None) -> tuple[str, ...]:
    """The resources named (a flag), else those of `sources.instantly.resources` in config, else all."""
    try:
        return check_resource_names(resources or dlt.config.get("sources.instantly.resources", list))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def check_configuration(options: SyncOptions) -> None:
    """Resolve and check the source's configuration (keys, URLs, dates) without fetching anything."""
    _source_builder(options, options.progress)(list(selected_resources(options.resources)))


def _source_builder(options: SyncOptions, progress: RunProgress):
    def build(names: list[str]):
        try:
            # a package this run leaves unloaded is resumed by `_finish_pending`, each file copied once
            args = {"declare_distinct_keys": True, **options.source_args}
            return instantly_source(resources=names, progress=progress, **args)
        except ConfigFieldMissingException as exc:
            missing = ", ".join(exc.fields)
            raise ConfigError(
                f"missing configuration: {missing}. Set SOURCES__INSTANTLY__API_KEY (or `api_key` under "
                "[sources.instantly] in .dlt/secrets.toml)"
            ) from None

    return build


def _finish_pending(pipeline: Pipeline, target: Target, result: SyncResult) -> None:
    """Load packages a crashed run extracted but did not load, before extracting anything new.

    Their cursors are already in local state; dropping them would lose rows, extracting first would
    leave `pipeline.run` loading them and skipping the new extract. A package whose load had started
    restarts what it had not finished (`pipelines.resume`). The caller holds the dataset's turn.
    """
    if pipeline.has_pending_data:
        _load(pipeline, target, pipeline.normalize(), result, resumed=True)


def _fold_split_numbers(pipeline: Pipeline) -> None:
    """Columns where older syncs kept a spec number as an integer, and its fractions in a `__v_double`
    variant, become one double column before anything is extracted (`destinations.split_numbers`): dlt would
    write the doubles the source now declares into the integer column. The caller holds the dataset's turn."""
    if not pipeline.default_schema_name:
        return  # this pipeline never loaded anything
    folded = split_numbers.fold_split_numbers(pipeline, number_columns(pipeline.default_schema.naming))
    if folded:
        logger.warning(
            "instantly-sync: %d number column(s) of earlier syncs are double now, their fractions folded in "
            "from the __v_double columns: %s",
            len(folded),
            ", ".join(f"{split.table}.{split.column}" for split in folded),
        )


_gc_guard = threading.Lock()
_gc_users = 0
_gc_thresholds_before: tuple[int, int, int] | None = None


@contextmanager
def fewer_garbage_collections() -> Iterator[None]:
    """Python's cyclic garbage collector at `settings.SYNC_GC_THRESHOLDS` while any sync of this process
    runs (a caller may run syncs in threads), and as it was once the last one ends."""
    global _gc_users, _gc_thresholds_before
    with _gc_guard:
        if _gc_users == 0:
            _gc_thresholds_before = gc.get_threshold()
            gc.set_threshold(*settings.SYNC_GC_THRESHOLDS)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_guard:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_thresholds_before)


def release_freed_memory() -> None:
    """Hand what the extract freed back to the OS before the load, which DuckDB's buffer pool adds to.

    Arrow's allocator and glibc's keep freed pages for reuse: after 100,000 leads ~100 MB that the load
    would otherwise stack its own memory on (bench/README.md, "Memory")."""
    gc.collect()
    pyarrow.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


def _load(
    pipeline: Pipeline,
    target: Target,
    normalized: NormalizeInfo | None,
    result: SyncResult,
    resumed: bool = False,
) -> None:
    """Load what was normalized. The caller holds the dataset's turn (`pipelines.lock.turn`): two workspaces'
    loads would otherwise alter the same tables in concurrent transactions, or open one DuckDB file from two
    processes."""
    if resumed:
        restart_unfinished_loads(pipeline)
    info = _load_within_memory(pipeline, target)
    if not info.has_failed_jobs:  # the versions the load brought (`destinations.history`)
        history.record_history(pipeline)
    info.raise_on_failed_jobs()
    result.slices += 1
    result.load_infos.append(info)
    for table, count in (normalized.row_counts if normalized else {}).items():
        if not table.startswith("_dlt"):
            result.rows_loaded[table] = result.rows_loaded.get(table, 0) + count


def _load_within_memory(pipeline: Pipeline, target: Target) -> LoadInfo:
    """`pipeline.load()`; into DuckDB, a load that runs out of the configured memory limit is retried with
    the limit doubled until it fits or reaches the ceiling (`destinations.duckdb_memory`). The failed
    attempt's jobs stay in the package, so the retry loads them; the next load starts from the configured
    limit again."""
    if target.destination != "duckdb":
        return pipeline.load()
    credentials = target.credentials()  # the configured limit, whatever an earlier load raised it to
    while True:
        try:
            return pipeline.load(credentials=credentials)
        except PipelineStepFailed as exc:
            if not duckdb_memory.ran_out_of_memory(exc):
                raise
            smaller = duckdb_memory.limit_of(credentials)
            credentials = duckdb_memory.with_doubled_limit(credentials)
            if credentials is None:
                logger.error(
                    "DuckDB ran out of its %s memory limit in this load, and more is not allowed here; the "
                    "package stays pending and the next run loads it. Set a larger memory_limit in "
                    "[destination.duckdb.credentials] global_config (.dlt/config.toml) if this repeats",
                    smaller,
                )
                raise
            logger.warning(
                "DuckDB ran out of its %s memory limit in this load (wide rows need more); loading again "
                "with %s",
                smaller,
                duckdb_memory.limit_of(credentials),
            )


def check_destination(pipeline: Pipeline, target: Target) -> None:
    """Connect to the destination once before anything is fetched: a wrong or unreachable database is a
    configuration error (exit 2) now, rather than a failed load after the whole extract."""
    with opening(target), pipeline.sql_client():
        pass


def remove_orphan_extracts(pipeline: Pipeline) -> None:
    """Delete what killed extracts and normalizes leave behind (dlt never deletes it).

    An extract writes into `normalize/<random id>/` and moves the finished package to `normalize/extracted/`;
    a folder still there when no extract runs (we hold the lock) belongs to a dead process and holds nothing
    committed: its cursors never reached the state. A normalize commits its package to `load/normalized/`
    and only then deletes the extracted one; killed in between, both remain, and normalizing the extracted
    copy again fails on the committed one. That copy is done with.
    """
    working = Path(pipeline.working_dir)
    normalize = working / "normalize"
    if not normalize.is_dir():
        return
    for folder in normalize.iterdir():
        if folder.is_dir() and folder.name != NormalizeStorage.EXTRACTED_FOLDER:
            shutil.rmtree(folder, ignore_errors=True)
    for package in (normalize / NormalizeStorage.EXTRACTED_FOLDER).glob("*"):
        if any((working / "load" / stage / package.name).exists() for stage in ("normalized", "loaded")):
            shutil.rmtree(package, ignore_errors=True)


def _warn_if_dlt_will_discard_state(pipeline: Pipeline) -> None:
    """Say so when dlt is about to throw away the local state because the dataset is gone.

    `Pipeline.run` first syncs with the destination; when the dataset does not exist there but the working
    folder holds state, dlt wipes the folder and starts over without a word (`_sync_destination`). Pending
    packages are loaded before this point, so a crash before the first load completed never gets here; what
    does is a dataset dropped (or a DuckDB file deleted or swapped) behind the pipeline's back, and then
    starting over is right: the rows the cursors describe are gone.
    """
    if not any(resource_states(pipeline).values()):
        return
    with pipeline.destination_client() as client:
        if client.is_storage_initialized():
            return
    logger.warning(
        "instantly-sync: warning: the dataset %r does not exist at the %s destination, but the pipeline's "
        "local state (%s) holds cursors of earlier loads; that state is discarded and every selected "
        "resource syncs from the start",
        pipeline.dataset_name,
        pipeline.destination.destination_name,
        pipeline.working_dir,
    )


def pipeline_lock_path(pipelines_dir: str, target: Target) -> Path:
    """The lock of the pipeline's working folder in `pipelines_dir`."""
    return Path(pipelines_dir) / f"{target.pipeline_name}.lock"
