"""How many workspaces sync at once (`--jobs`, `sources.instantly.jobs`), and the worker processes they sync
in, so that an agency's workspaces use every core rather than one (parsing pages, building Arrow tables and
dlt's normalize hold Python's GIL).

Each worker runs one task at a time and takes the next when done. A worker that dies mid-task (SIGKILL, a
segfault, the kernel out of memory) fails that task alone, and a fresh worker takes the next one:
`concurrent.futures.ProcessPoolExecutor` cannot do that, as one dead worker breaks its pool, failing every
task and terminating the other workers. Workers start with `spawn`, not `fork`: the command's process runs
threads (HTTP pools, dlt's), whose locks a forked child would inherit held. Tasks and results travel pickled
through a pipe per worker, never on a command line.
"""

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

import dlt

from sources.instantly.errors import ConfigError

JOBS_KEY = "sources.instantly.jobs"
START_METHOD = "spawn"


def configured_jobs(flag: str | int | None, workspaces: int) -> int:
    """How many of `workspaces` sync at once: `--jobs`, else `sources.instantly.jobs`, else the machine's
    core count; never more than there are workspaces. 1: one after another, in the command's process."""
    value = flag if flag is not None else dlt.config.get(JOBS_KEY)
    if value is None:
        return max(1, min(os.cpu_count() or 1, workspaces))
    try:
        jobs = int(str(value).strip())
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise ConfigError(
            f"jobs must be a whole number of at least 1 (--jobs, or {JOBS_KEY} / SOURCES__INSTANTLY__JOBS), "
            f"not {value!r}"
        )
    return max(1, min(jobs, workspaces))


@dataclass(frozen=True)
class WorkerDied:
    """What a task gets instead of its result when its worker process ended in the middle of it."""

    reason: str  # "killed by SIGKILL", "exit code 1"
    started_at: datetime  # when the worker was handed the task
    ended_at: datetime  # when its death was seen


def run_in_workers(work: Callable[[Any], Any], tasks: list[Any], jobs: int) -> list[Any]:
    """`work(task)` for every task in at most `jobs` worker processes at once; the results in task order,
    a `WorkerDied` for each task whose worker died. `work` and the tasks and results must pickle."""
    context = multiprocessing.get_context(START_METHOD)
    results: list[Any] = [None] * len(tasks)
    started_at: list[datetime | None] = [None] * len(tasks)
    waiting = deque(range(len(tasks)))
    idle: list[_Worker] = []
    busy: list[tuple[_Worker, int]] = []
    try:
        while waiting or busy:
            while waiting and len(busy) < jobs:
                worker = idle.pop() if idle else _Worker.start(context, work)
                index = waiting.popleft()
                worker.connection.send(tasks[index])
                started_at[index] = datetime.now(UTC)
                busy.append((worker, index))
            ready = set(wait([handle for worker, _ in busy for handle in worker.handles]))
            for worker, index in [(w, i) for w, i in busy if ready.intersection(w.handles)]:
                busy.remove((worker, index))
                try:
                    results[index] = worker.connection.recv()
                except EOFError:  # its end of the pipe closed: the process is gone
                    results[index] = WorkerDied(worker.end(), started_at[index], datetime.now(UTC))
                else:
                    idle.append(worker)
    finally:
        for worker in idle:
            worker.stop()
        for worker, _ in busy:  # only when the command itself is interrupted
            worker.process.terminate()
            worker.end()
    return results


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection

    @classmethod
    def start(cls, context: Any, work: Callable[[Any], Any]) -> "_Worker":
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(theirs, work), name="instantly-worker", daemon=True)
        process.start()
        theirs.close()  # the worker holds the only other end: its death reads as end-of-file here
        return cls(process, ours)

    @property
    def handles(self) -> tuple[Any, ...]:
        return (self.connection, self.process.sentinel)

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.end()

    def end(self) -> str:
        """Wait for the process to end; how it ended."""
        self.process.join()
        self.connection.close()
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"


def _serve(connection: Connection, work: Callable[[Any], Any]) -> None:
    """A worker's life: run the tasks the command sends, one at a time, until it sends None."""
    try:
        while (task := connection.recv()) is not None:
            connection.send(work(task))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the command reports it once
        pass
