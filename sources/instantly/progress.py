"""Counters per resource (requests, pages, rows) and a periodic one-line progress report on long runs."""

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO


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
    seconds: float = 0.0  # time spent fetching, over every slice of the run

    _since: float | None = field(default=None, repr=False)

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

    def of(self, resource: str) -> ResourceStats:
        with self._lock:
            return self.resources.setdefault(resource, ResourceStats())

    def skipped(self) -> dict[str, str]:
        """Resources skipped in this run, with the reason (a partial sync)."""
        with self._lock:
            return {name: s.skipped for name, s in self.resources.items() if s.skipped}

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
