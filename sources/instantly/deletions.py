"""Which walks saw their whole collection in this run, and the keys they saw: what deletion marking needs.

The API lists no tombstones: a deleted lead, campaign or account is just missing from the next full walk.
So a walk over a whole collection keeps a hash of every key it meets (`SeenKeys`, 8 bytes a key); once it
reaches the end, the rows of its table whose key it never met are the deleted ones
(`destinations.deletions` marks them). Only a walk seen whole by this process counts: one that failed, ended
early, or resumed an earlier run's cursor (the keys before it are not known here) marks nothing, and the
next complete walk catches up.

A fan-out resource (mappings per account) saw its whole collection when its parent's walk did, none of
its own per-parent walks failed or ended early, and the parent rejected no item (whose children were then
never asked for); a parent deleted meanwhile (404) just has no rows. Reports about one parent item
(analytics per campaign, `Endpoint.owner`) are no collection, and their rows follow that item instead.
"""

import enum
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .endpoints import ENDPOINTS, ENDPOINTS_BY_NAME, Endpoint, Kind, Strategy
from .progress import RunProgress
from .walks import parse_time


class Deletes(enum.Enum):
    """What a complete walk does to the rows of keys it did not see (`deletes` under [sources.instantly])."""

    SOFT = "soft"  # set `_deleted_at`; the row is live again if its key comes back
    HARD = "hard"  # delete the row and its child-table rows
    OFF = "off"  # leave them


def marks_deletions(endpoint: Endpoint) -> bool:
    """List walks over the whole collection. Time-window resources (emails, audit logs, webhook events) are
    append-only: what is not in this window is older, not deleted. Reports and snapshots are answers, not
    collections."""
    return endpoint.kind is Kind.LIST and endpoint.strategy in (Strategy.MERGE_ALL, Strategy.CHANGED_ROWS)


# each walked resource, and the report tables whose rows follow its items (with the column naming the item)
OWNED_TABLES: Mapping[str, tuple[tuple[str, str], ...]] = {
    parent: tuple((e.name, e.owner.column) for e in ENDPOINTS if e.owner and e.owner.parent == parent)
    for parent in {e.owner.parent for e in ENDPOINTS if e.owner}
}
# every table that carries `_deleted_at`
MARKED_TABLES = tuple(e.name for e in ENDPOINTS if marks_deletions(e) or e.owner)


class SeenKeys:
    """Hashes of the keys one walk met, with what the rows it did not meet are to become, and the workspace
    whose rows they are where workspaces share the dataset. Two equal hashes count as the same key, so a
    collision can only keep a deleted row live, never mark a live one."""

    def __init__(self, key_fields: tuple[str, ...], deletes: Deletes, workspace_id: str | None = None):
        self.key_fields = key_fields
        self.deletes = deletes
        self.workspace_id = workspace_id
        self.started_at: str | None = None  # the walk's `started_at`, once it fetched its first page
        self._hashes = array("q")

    def add(self, items: Iterable[Any]) -> None:
        try:
            self._hashes.extend(map(self.hash_of, items))
        except (TypeError, KeyError, AttributeError):  # an item that is no object, or lacks its key
            self._hashes.extend(hash_ for hash_ in map(self._hash_or_none, items) if hash_ is not None)

    def hash_of(self, item: Mapping[str, Any]) -> int:
        """Keys are text columns: a key the API sent as a number is stored as its text, and hashed so."""
        if len(self.key_fields) == 1:
            return hash(str(item[self.key_fields[0]]))
        return hash(tuple(str(item[name]) for name in self.key_fields))

    def _hash_or_none(self, item: Any) -> int | None:
        try:
            return self.hash_of(item)
        except (TypeError, KeyError, AttributeError):
            return None

    def hash_key(self, values: tuple[Any, ...]) -> int:
        """The hash of a key read back from the warehouse, as a tuple of its column values."""
        return hash(str(values[0])) if len(values) == 1 else hash(tuple(map(str, values)))

    def unseen(self, hashes: array) -> list[bool]:
        """For each hash (an `array("q")`), whether this walk never met it: one lookup for them all."""
        if not hashes:
            return []
        pool = pa.system_memory_pool()  # gives the memory back at once
        found = pc.is_in(_int64s(hashes), value_set=_int64s(self._hashes), memory_pool=pool)
        return pc.invert(found, memory_pool=pool).to_pylist()


def _int64s(hashes: array) -> pa.Array:
    """An `array("q")` as an Arrow array over the same memory (no copy)."""
    return pa.Array.from_buffers(pa.int64(), len(hashes), [None, pa.py_buffer(hashes)])


@dataclass(frozen=True)
class CompleteWalk:
    """A walk that met every item of its resource's collection: its table, the keys it met (with what to
    do to the rows it did not meet, and their workspace), and when it began (what `_deleted_at` says)."""

    table: str
    seen: SeenKeys
    started_at: datetime

    @property
    def key_fields(self) -> tuple[str, ...]:
        return self.seen.key_fields

    @property
    def deletes(self) -> Deletes:
        return self.seen.deletes

    @property
    def workspace_id(self) -> str | None:
        return self.seen.workspace_id


def complete_walks(progress: RunProgress, selected: Iterable[str]) -> list[CompleteWalk]:
    """The walks of `selected` resources that reached their end whole since the last call; each is given
    once (a walk's keys are dropped once taken)."""
    found = []
    for name in selected:
        endpoint = ENDPOINTS_BY_NAME.get(name)
        if endpoint is None or not marks_deletions(endpoint):
            continue
        stats = progress.of(name)
        walker = progress.of(endpoint.fan_out.parent) if endpoint.fan_out else stats
        if not (stats.ok and walker.ok and walker.walk_complete and not stats.ended_early):
            continue
        if endpoint.fan_out and walker.rejected:
            continue  # a parent item it could not read has children it never asked for
        walked = walker.seen
        if walked is None or walked.started_at is None:
            continue
        seen = stats.seen if endpoint.fan_out else walked
        if seen is None:  # a fan-out whose parent had no items: none of its rows is still there
            seen = SeenKeys(endpoint.key_fields, walked.deletes, walked.workspace_id)
        found.append(CompleteWalk(name, seen, parse_time(walked.started_at)))
    for stats in progress.resources.values():  # taken: nothing is swept twice, the next walks start afresh
        if stats.walk_complete:
            stats.walk_complete, stats.seen = False, None
    for name in selected:
        endpoint = ENDPOINTS_BY_NAME.get(name)
        if endpoint is not None and endpoint.fan_out:
            progress.of(name).seen = None
    return found
