"""Locks so two syncs never write the same pipeline state, DuckDB file or Postgres dataset at once, and the
turns the workspaces of one command take in a dataset they share.

`flock` locks belong to the open file, and Postgres advisory locks to the session: the OS or the server
releases them when the process ends, however it ends (a SIGKILLed run leaves no stale lock behind).
"""

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg2

from destinations import Target, opening
from sources.instantly.errors import InstantlyError

logger = logging.getLogger(__name__)


class AlreadyRunning(InstantlyError):
    exit_code = 4


@contextmanager
def exclusive(lock_paths: list[Path], wait: bool) -> Iterator[None]:
    """Hold every lock in `lock_paths` (always in sorted order, so two runs cannot deadlock)."""
    with ExitStack() as stack:
        for path in sorted(set(lock_paths)):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context(path.open("a"))
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    raise AlreadyRunning(
                        f"another sync is running on the same destination (lock held: {path}); "
                        "wait for it to finish or pass --wait"
                    ) from None
                logger.warning("instantly-sync: another sync holds %s; waiting for it to finish", path)
                fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def dataset_lock_paths(target: Target) -> list[Path]:
    """The lock file of a DuckDB target's file (a Postgres dataset is locked in the database instead)."""
    return [Path(f"{target.lock_name}.lock")] if target.destination == "duckdb" else []


@contextmanager
def datasets_locked(targets: list[Target], wait: bool, also: list[Path] = ()) -> Iterator[None]:
    """Hold the locks of every target's dataset (file and advisory locks, each once) and the files `also`:
    one command writing several workspaces' pipelines into the same datasets."""
    files = [*also, *(path for target in targets for path in dataset_lock_paths(target))]
    with exclusive(files, wait), ExitStack() as held:
        for target in {target.lock_name: target for target in targets}.values():
            held.enter_context(dataset_lock(target, wait))
        yield


@contextmanager
def dataset_lock(target: Target, wait: bool) -> Iterator[None]:
    """Postgres: hold an advisory lock on the dataset for the run, on a connection of its own, so runs from
    other machines or other pipelines folders cannot write the same dataset at once (file locks cannot see
    them). DuckDB: nothing to do, the file lock covers the file."""
    if target.destination != "postgres":
        yield
        return
    key = _advisory_key(f"instantly-sync:{target.dataset}")
    connection = _lock_connection(target)
    try:
        with connection.cursor() as cursor:
            cursor.execute("select pg_try_advisory_lock(%s)", (key,))
            if not cursor.fetchone()[0]:
                if not wait:
                    raise AlreadyRunning(
                        f"another sync is writing the Postgres dataset {target.dataset!r} "
                        f"(advisory lock {key}); wait for it to finish or pass --wait"
                    )
                logger.warning(
                    "instantly-sync: another sync is writing the Postgres dataset %r; waiting for it",
                    target.dataset,
                )
                cursor.execute("select pg_advisory_lock(%s)", (key,))
        yield
    finally:
        connection.close()


@contextmanager
def turn(target: Target) -> Iterator[None]:
    """The dataset's turn, held by one sync at a time, in whichever process or thread it runs, while it
    opens the DuckDB file (one process at a time can) or alters the Postgres dataset's tables (two loads would
    alter the same tables in concurrent transactions). Whoever holds it closes its connections before leaving.

    DuckDB: a `flock` on a file beside the database; every turn opens the file anew, and flocks of two open
    files conflict even within one process. Postgres: an advisory lock on a key of its own (the dataset's
    run-long lock is another), so syncs on other machines take turns too."""
    if target.destination == "duckdb":
        with Path(f"{target.lock_name}.turn").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    connection = _lock_connection(target)
    try:
        with connection.cursor() as cursor:
            key = _advisory_key(f"instantly-sync-turn:{target.dataset}")
            cursor.execute("select pg_advisory_lock(%s)", (key,))
        yield
    finally:
        connection.close()


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _lock_connection(target: Target) -> "psycopg2.extensions.connection":
    """A connection of its own to the Postgres dataset's database, for locks that last as long as it."""
    with opening(target):
        connection = psycopg2.connect(target.postgres_dsn())
    connection.autocommit = True
    return connection
