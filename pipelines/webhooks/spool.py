"""The spool: every accepted event is on local disk (fsynced) before its 200, until a load has stored it.

Append-only segment files `<number>.spool` in one directory. A record is one line, `<crc32 hex> <json>\n`
(compact JSON never holds a raw newline), so each line is checked on its own: a line cut short or garbled by
a crash mid-write fails its checksum and is skipped. Such a line was never acknowledged, since a 200 is
only sent once the record's fsync returned. Group commit: request threads queue their records and wait;
one writer thread writes everything queued, then fsyncs once for all of them.

`seal()` closes the segment being written and opens the next; sealed segments are what a load reads and,
once loaded, deletes. A process that starts treats every segment it finds (a killed one's) as sealed.
"""

import fcntl
import logging
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sources.instantly.errors import InstantlyError

SUFFIX = ".spool"
LOCK_NAME = ".lock"
logger = logging.getLogger(__name__)


class SpoolInUse(InstantlyError):
    exit_code = 4


class SpoolFailed(InstantlyError):
    exit_code = 1


class SpoolClosed(Exception):
    """The spool stopped taking records (shutting down, or a write failed): the event was not stored."""


@dataclass
class SegmentContents:
    records: list[dict[str, Any]]
    skipped: int  # torn or corrupt lines, never acknowledged


def encode(record: dict[str, Any]) -> bytes:
    body = orjson.dumps(record)
    return b"%08x %s\n" % (zlib.crc32(body), body)


def read_segment(path: Path) -> SegmentContents:
    """The intact records of a segment, and how many lines failed their checksum (a torn tail)."""
    records, skipped = [], 0
    lines = path.read_bytes().split(b"\n")
    if lines[-1]:
        skipped += 1  # a last line without its newline: written in part when the process died
    for line in lines[:-1]:
        checksum, _, body = line.partition(b" ")
        try:
            intact = len(checksum) == 8 and int(checksum, 16) == zlib.crc32(body)
            record = orjson.loads(body) if intact else None
        except ValueError:  # orjson.JSONDecodeError too
            intact = False
        if intact and isinstance(record, dict):
            records.append(record)
        else:
            skipped += 1
    return SegmentContents(records, skipped)


class Spool:
    """Segments in `directory`, which one process at a time owns (a lock file)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = (directory / LOCK_NAME).open("a")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise SpoolInUse(f"another `webhooks serve` owns the spool {directory}") from None
        numbers = [_number(path) for path in self._segments()]
        self._number = max(numbers, default=0) + 1
        self._fd = self._open(self._number)
        self._state = threading.Condition()
        self._io = threading.Lock()  # held while writing or switching segments
        self._queue: list[bytes] = []
        self._queued = 0  # records ever queued; each waits until `_durable` reaches its number
        self._durable = 0
        self._closing = False
        self._failure: OSError | None = None
        self.since_seal = 0  # records made durable since the last seal
        self._writer = threading.Thread(target=self._write_queued, name="spool-writer", daemon=True)
        self._writer.start()

    @property
    def failure(self) -> OSError | None:
        """Why the spool stopped taking records, if a write failed."""
        return self._failure

    # ------------------------------------------------------------------------------------ appending
    def append(self, record: dict[str, Any]) -> None:
        """Return once the record is on disk; `SpoolClosed` when it was not stored."""
        line = encode(record)
        with self._state:
            if self._closing or self._failure:
                raise SpoolClosed("the spool is closed")
            self._queue.append(line)
            self._queued += 1
            mine = self._queued
            self._state.notify_all()
            while self._durable < mine and self._failure is None:
                self._state.wait()
            if self._durable < mine:
                raise SpoolClosed(f"the spool could not be written: {self._failure}")

    def _write_queued(self) -> None:
        while True:
            with self._state:
                while not self._queue and not self._closing:
                    self._state.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
                upto = self._queued
            try:
                with self._io:
                    _write_all(self._fd, b"".join(batch))
                    os.fdatasync(self._fd)
            except OSError as exc:
                logger.error("instantly-sync: the webhook spool cannot be written: %s", exc)
                with self._state:
                    self._failure = exc
                    self._state.notify_all()
                return
            with self._state:
                self._durable = upto
                self.since_seal += len(batch)
                self._state.notify_all()

    # ----------------------------------------------------------------------------------- segments
    def seal(self) -> list[Path]:
        """Start a new segment (unless the current one is empty); every older one (sealed, not yet loaded) is
        returned, oldest first."""
        with self._io:
            if os.fstat(self._fd).st_size:
                os.close(self._fd)
                self._number += 1
                self._fd = self._open(self._number)
            with self._state:
                self.since_seal = 0
        return [path for path in self._segments() if _number(path) < self._number]

    def remove(self, segments: list[Path]) -> None:
        """Delete loaded segments (what they held is in the warehouse)."""
        for path in segments:
            path.unlink(missing_ok=True)
        _fsync_directory(self.directory)

    def drain(self) -> None:
        """Stop taking records once what is queued is written (segments can still be sealed and loaded)."""
        with self._state:
            self._closing = True
            self._state.notify_all()
        self._writer.join()

    def close(self) -> None:
        """Drain, and release the directory (the segment being written goes if nothing was written to it)."""
        self.drain()
        if os.fstat(self._fd).st_size == 0:
            self._path(self._number).unlink()
        os.close(self._fd)
        self._lock_file.close()

    def _open(self, number: int) -> int:
        fd = os.open(self._path(number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_directory(self.directory)  # the new file's name is durable before any record in it
        return fd

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:012d}{SUFFIX}"

    def _segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{SUFFIX}"), key=_number)


def _number(path: Path) -> int:
    return int(path.name.removesuffix(SUFFIX))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
