"""Locks so two syncs never write the same pipeline state, DuckDB file or Postgres dataset at once, and the
turns the workspaces of one command take in a dataset they share.

`flock` locks belong to the open file, and Postgres advisory locks to the session: the OS or the server
releases them when the process ends, however it ends (a SIGKILLed run leaves no stale lock behind).
"""

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import psycopg2

from destinations import Target, duckdb_open, opening
from sources.instantly.errors import InstantlyError

logger = logging.getLogger(__name__)


class AlreadyRunning(InstantlyError):
    exit_code = 4


@contextmanager
def exclusive(lock_paths: list[Path], wait: bool) -> Iterator[None]:
    """Hold every lock in `lock_paths` (always in sorted order, so two runs cannot deadlock)."""
    with ExitStack() as stack:
        for path in sorted(set(lock_paths)):
            stack.enter_context(_file_lock(path, wait, shared=False))
        yield


@contextmanager
def _file_lock(path: Path, wait: bool, shared: bool) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise AlreadyRunning(
                    f"another sync is running on the same destination (lock held: {path}); "
                    "wait for it to finish or pass --wait"
                ) from None
            logger.warning("instantly-sync: another sync holds %s; waiting for it to finish", path)
            fcntl.flock(handle, mode)
        yield


def dataset_lock_paths(target: Target) -> list[Path]:
    """The lock file of a DuckDB target's file (a Postgres dataset is locked in the database instead)."""
    return [Path(f"{target.lock_name}.lock")] if target.destination == "duckdb" else []


@contextmanager
def datasets_locked(
    targets: list[Target],
    wait: bool,
    also: list[Path] = (),
    shared: bool = False,
    pipelines: list[Target] = (),
) -> Iterator[None]:
    """Hold the locks of every target's dataset (file and advisory locks, each once), the files `also`, and
    alone the lock of each of the `pipelines` in its dataset.

    `shared`: what syncs hold. Syncs of different workspaces (pipelines) share a dataset, each holding its
    own pipeline's lock, and take turns where they touch the dataset (`turn`): commands, machines and Airflow
    tasks sync workspaces of one dataset side by side. Otherwise (reset, a full refresh: they drop tables
    every workspace writes) the dataset is held alone. A command's advisory locks share one connection per
    database, however many workspaces it syncs."""
    with ExitStack() as held:
        held.enter_context(exclusive(list(also), wait))
        connections: dict[str, Any] = {}

        def connection(target: Target) -> Any:
            with opening(target):  # missing or malformed credentials: a configuration error (exit 2)
                dsn = target.postgres_dsn()
            if dsn not in connections:
                connections[dsn] = held.enter_context(closing(_lock_connection(target)))
            return connections[dsn]

        for _, target in sorted({target.lock_name: target for target in targets}.items()):
            for path in dataset_lock_paths(target):
                held.enter_context(_file_lock(path, wait, shared))
            if target.destination == "postgres":
                _take_advisory_lock(
                    connection(target), _dataset_lock_name(target), wait, shared, _what(target)
                )
        for _, target in sorted({_pipeline_lock_name(target): target for target in pipelines}.items()):
            if target.destination == "duckdb":
                path = Path(f"{target.lock_name}.{target.pipeline_name}.lock")
                held.enter_context(_file_lock(path, wait, shared=False))
            else:
                what = _what(target) + (
                    f" for the workspace {target.workspace!r}" if target.workspace else ""
                )
                _take_advisory_lock(connection(target), _pipeline_lock_name(target), wait, False, what)
        yield


def _what(target: Target) -> str:
    return f"the Postgres dataset {target.dataset!r}"


def _dataset_lock_name(target: Target) -> str:
    return f"instantly-sync:{target.dataset}"


def _pipeline_lock_name(target: Target) -> str:
    return f"{target.lock_name}:{target.pipeline_name}"


def _take_advisory_lock(connection: Any, name: str, wait: bool, shared: bool, what: str) -> None:
    """Take an advisory lock on `connection`: it is held until the connection closes."""
    key = _advisory_key(name)
    mode = "_shared" if shared else ""
    with connection.cursor() as cursor:
        cursor.execute(f"select pg_try_advisory_lock{mode}(%s)", (key,))
        if cursor.fetchone()[0]:
            return
        if not wait:
            raise AlreadyRunning(
                f"another sync is writing {what} (advisory lock {key}); wait for it to finish or pass --wait"
            )
        logger.warning("instantly-sync: another sync is writing %s; waiting for it", what)
        cursor.execute(f"select pg_advisory_lock{mode}(%s)", (key,))


@contextmanager
def turn(target: Target) -> Iterator[None]:
    """The dataset's turn, held by one sync at a time, in whichever process or thread it runs, while it
    opens the DuckDB file (one process at a time can) or alters the Postgres dataset's tables (two loads would
    alter the same tables in concurrent transactions). Whoever holds it closes its connections before leaving.

    DuckDB: a `flock` on a file beside the database; every turn opens the file anew, and flocks of two open
    files conflict even within one process. The database stays open for the whole turn (`duckdb_open`).
    Postgres: an advisory lock on a key of its own (the dataset's run-long lock is another), so syncs on other
    machines take turns too."""
    if target.destination == "duckdb":
        with Path(f"{target.lock_name}.turn").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            with duckdb_open(target):
                yield
        return
    with closing(_lock_connection(target)) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select pg_advisory_lock(%s)", (_advisory_key(f"instantly-sync-turn:{target.dataset}"),)
        )
        yield


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _lock_connection(target: Target) -> "psycopg2.extensions.connection":
    """A connection of its own to the Postgres dataset's database, for locks that last as long as it."""
    with opening(target):
        connection = psycopg2.connect(target.postgres_dsn())
    connection.autocommit = True
    return connection
