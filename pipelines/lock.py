"""An OS file lock so two syncs never write the same pipeline state or DuckDB file at once."""

import fcntl
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sources.instantly.errors import InstantlyError


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
                fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise AlreadyRunning(
                    f"another sync is running on the same destination (lock held: {path}); "
                    "wait for it to finish or pass --wait"
                ) from None
        yield
