"""Counters per resource (requests, pages, rows) and a periodic one-line progress report on long runs."""

import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TextIO


@dataclass
class ResourceStats:
    requests: int = 0
    retries: int = 0
    pages: int = 0
    rows_fetched: int = 0
    rows_kept: int = 0
    rejected: int = 0
    seconds_waiting_for_rate_limit: float = 0.0
    skipped: str | None = None  # why the resource was skipped (a missing scope), if it was
    # the paid add-on the workspace's plan lacks, as a note, if the resource belongs to one (not a failure)
    not_in_plan: str | None = None
    failed: str | None = None  # why the resource failed in this run (the others went on), if it did
    failure: Exception | None = field(default=None, repr=False)  # and the error itself
    parents_skipped: int = 0  # fan-out parents that were gone (404) when their turn came
    ended_early: bool = False  # the walk stopped before the API said it was done (see `Walk.end_early`)
    warnings: list[str] = field(default_factory=list)  # what the run noticed and worked around
    # the keys the walk in progress met (`deletions.SeenKeys`), while it is seen whole by this process
    seen: Any = field(default=None, repr=False)
    walk_complete: bool = False  # the walk reached its end in this slice, seen whole (`seen`)
    deleted: int = 0  # rows a complete walk did not meet, marked or removed (`deletes`)
    arrow_batches: int = 0  # batches handed to dlt as Arrow tables (the fast path)
    dict_batches: int = 0  # and as dicts (row by row through dlt's normalizer)
    seconds: float = 0.0  # time spent fetching, over every slice of the run

    _since: float | None = field(default=None, repr=False)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    @property
    def ok(self) -> bool:
        return not (self.skipped or self.failed or self.not_in_plan)

    def started(self) -> None:
        self._since = time.monotonic()

    def finished(self) -> None:
        if self._since is not None:
            self.seconds += time.monotonic() - self._since
            self._since = None


@dataclass
class RunProgress:
    """Shared by every resource of a run; the reporter thread only reads it."""

    resources: dict[str, ResourceStats] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        """What a worker process sends back (`pipelines.jobs`): the counters and messages, without the lock,
        the keys a walk met or the errors themselves (their messages are in `failed`)."""
        with self._lock:
            return {name: replace(stats, seen=None, failure=None) for name, stats in self.resources.items()}

    def __setstate__(self, resources: dict[str, ResourceStats]) -> None:
        self.resources = resources
        self._lock = threading.Lock()

    def of(self, resource: str) -> ResourceStats:
        with self._lock:
            return self.resources.setdefault(resource, ResourceStats())

    def skipped(self) -> dict[str, str]:
        """Resources skipped in this run, with the reason (a partial sync)."""
        with self._lock:
            return {name: s.skipped for name, s in self.resources.items() if s.skipped}

    def not_in_plan(self) -> dict[str, str]:
        """Resources of a paid add-on the workspace's plan lacks, with the note (not a partial sync)."""
        with self._lock:
            return {name: s.not_in_plan for name, s in self.resources.items() if s.not_in_plan}

    def failed(self) -> dict[str, str]:
        """Resources that failed in this run, with the reason (the others were loaded)."""
        with self._lock:
            return {name: s.failed for name, s in self.resources.items() if s.failed}

    def mark_orphans(self, names: list[str], parents: Mapping[str, str]) -> None:
        """A fan-out resource of `names` holds only what its parent yielded: when the parent failed, it
        failed too (though it may have fetched nothing at all); when the plan lacks the parent's add-on, it
        is not in the plan either; when the parent's walk ended early, it says so."""
        with self._lock:
            for name in names:
                parent = self.resources.get(parents.get(name, ""))
                if parent is None or (parent.ok and not parent.ended_early):
                    continue
                stats = self.resources.setdefault(name, ResourceStats())
                if parent.failed and stats.ok:
                    stats.failed = f"its parent {parents[name]} failed, so it is incomplete: {parent.failed}"
                elif parent.not_in_plan and stats.ok:
                    stats.not_in_plan = parent.not_in_plan
                elif parent.ended_early:
                    stats.warn(
                        f"its parent {parents[name]} ended its walk early: only its items fetched have rows"
                    )

    def line(self) -> str:
        with self._lock:
            parts = [
                f"{name} {s.pages} pages/{s.rows_fetched} rows"
                for name, s in self.resources.items()
                if s.requests
            ]
        return "progress: " + (", ".join(parts) if parts else "starting")


class ProgressReporter:
    """Prints `progress.line()` every `interval` seconds until stopped (a context manager)."""

    def __init__(
        self, progress: RunProgress, interval: float = 10.0, stream: TextIO | None = None, label: str = ""
    ):
        self._progress = progress
        self._label = f"{label}: " if label else ""
        self._interval = interval
        self._stream = stream or sys.stderr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="instantly-progress", daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self._interval):
            print(
                f"[{time.monotonic() - started:6.0f}s] {self._label}{self._progress.line()}",
                file=self._stream,
                flush=True,
            )

    def __enter__(self) -> "ProgressReporter":
        if self._interval > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
