"""One entity of one world: generated items plus the overlays that changed them.

Item ``i`` is generated on demand from ``(seed, entity, i)``; only overlays are stored (field changes,
added fields, removals, added items). Creation instants are strictly increasing in ``i`` (a timeline),
so creation order is index order, time ranges are binary searches, and an id cursor is decoded back to
its index from the id's low bits (``ids.py``): no id -> index dictionary even for a million leads.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .clock import DAY_MS, iso_ms, to_ms
from .factory import Factory
from .generate import ABSENT, Ctx
from .ids import IdCodec
from .rand import Rng, mix64, salt, unit
from .registry import Entity

if TYPE_CHECKING:
    from .world import World

LEGACY_CUTOFF = datetime(2025, 10, 15, tzinfo=UTC)
"""Leads created before this day have random (v4) ids and so appear out of id order."""


class Timeline:
    """Creation instants of the generated items: strictly increasing, evenly spread with jitter."""

    def __init__(self, segments: Iterable[tuple[int, int, int]], key: int) -> None:
        self.segments: list[tuple[int, int, int, int]] = []  # (first index, count, start ms, step ms)
        first = 0
        for count, start_ms, end_ms in segments:
            step = max(1, (end_ms - start_ms) // max(count, 1))
            self.segments.append((first, count, start_ms, step))
            first += count
        self.count = first
        self.key = key

    def ms(self, index: int) -> int:
        for first, count, start_ms, step in self.segments:
            if index < first + count:
                k = index - first
                return start_ms + k * step + int(unit(index, self.key) * step)
        raise IndexError(index)


class Store:
    """One entity of one world: generated items plus the overlays that changed them."""

    def __init__(self, world: "World", entity: Entity, size: int) -> None:
        self.world = world
        self.entity = entity
        self.base = size
        self.salt = salt(entity.name)
        self.codec = IdCodec(world.seed, self.salt)
        self.factory = Factory(
            entity.item_schema, entity.owned_fields | {entity.key_field, entity.time_field}, self.salt
        )
        self.shape = entity.shape(entity.item_schema) if entity.shape else None
        updated = entity.updated_field
        self.updated_field = updated if updated in entity.item_schema.get("properties", {}) else None
        self.has_updated = self.updated_field is not None
        end = world.anchor_ms
        start = end - entity.span_days * DAY_MS
        self.legacy = round(size * entity.legacy_fraction)
        cutoff = to_ms(LEGACY_CUTOFF)
        if self.legacy:
            modern_start = max(start, cutoff)
            segments = [
                (self.legacy, cutoff - 240 * DAY_MS, cutoff - DAY_MS),
                (size - self.legacy, modern_start, end),
            ]
        else:
            segments = [(size, start, end)]
        self.timeline = Timeline(segments, mix64(world.seed, self.salt, 77) & 0xFFFFFFF)
        self._keys: dict[int, str] = {}
        self.added: list[dict[str, Any]] = []
        self.added_ms: list[int] = []
        self.overlay: dict[int, dict[str, Any]] = {}
        self.removed: set[int] = set()
        self.fields: list[tuple[str, Any]] = []
        self.dropped: set[str] = set()
        self._key_index: dict[str, int] | None = None

    # ---------------------------------------------------------------------------------------- indexes
    def count(self) -> int:
        """Items ever created (removed ones included): the index space is ``range(count())``."""
        return self.base + len(self.added)

    def ms(self, index: int) -> int:
        if index < self.base:
            return self.timeline.ms(index)
        return self.added_ms[index - self.base]

    def key(self, index: int) -> str:
        if index >= self.base:
            return self.added[index - self.base][self.entity.key_field]
        found = self._keys.get(index)
        if found is not None:
            return found
        if self.entity.key_of is not None:
            found = self.entity.key_of(self.world, index)
        elif index < self.legacy:
            found = self.codec.v4(index)
        else:
            found = self.new_key(index, self.timeline.ms(index))
        if len(self._keys) < 4096:
            self._keys[index] = found
        return found

    def new_key(self, index: int, created_ms: int) -> str:
        """The generated id of item ``index`` created at ``created_ms`` (entities without ``key_of``)."""
        if self.entity.id_kind == "object_id":
            return self.codec.object_id(index, created_ms)
        return self.codec.v7(index, created_ms)

    def index_of(self, key: Any) -> int | None:
        """The index of the item with this key (removed items included), or None."""
        if not isinstance(key, str):
            return None
        if self.entity.key_of is None:
            index = self.codec.index_of(key)
            if index is None or index >= self.count():
                return None
        else:
            if self._key_index is None or len(self._key_index) != self.count():
                self._key_index = {self.key(i): i for i in range(self.count())}
            index = self._key_index.get(key)
            if index is None:
                return None
        return index if self.key(index) == key else None

    def count_before(self, unix_ms: int) -> int:
        """How many items were created strictly before ``unix_ms`` (binary search on the timeline)."""
        low, high = 0, self.count()
        while low < high:
            middle = (low + high) // 2
            if self.ms(middle) < unix_ms:
                low = middle + 1
            else:
                high = middle
        return low

    def count_at_or_before(self, unix_ms: int, key: str) -> int:
        """How many items sort at or before ``(unix_ms, key)`` in (creation, key) order."""
        low, high = 0, self.count()
        while low < high:
            middle = (low + high) // 2
            if (self.ms(middle), self.key(middle)) <= (unix_ms, key):
                low = middle + 1
            else:
                high = middle
        return low

    # ------------------------------------------------------------------------------------------ items
    def generate(self, index: int, created_ms: int, until_ms: int) -> dict[str, Any]:
        entity = self.entity
        rng = Rng(self.world.seed, self.salt, index)
        ctx = Ctx(self.world, index, created_ms, until_ms, entity.time_field)
        item: dict[str, Any] = {
            entity.key_field: self.key(index) if index < self.base else "",
            entity.time_field: iso_ms(created_ms),
        }
        self.factory.make(item, rng, ctx)
        if self.shape is not None:
            self.shape(item, rng, ctx)
        return item

    def item(self, index: int) -> dict[str, Any]:
        """The current item at ``index``: generated (or added) data, added fields, then changes."""
        if index < self.base:
            item = self.generate(index, self.timeline.ms(index), self.world.anchor_ms)
        else:
            item = dict(self.added[index - self.base])
        for name, value in self.fields:
            item[name] = value(item) if callable(value) else value
        changes = self.overlay.get(index)
        if changes:
            for name, value in changes.items():
                if value is ABSENT:
                    item.pop(name, None)
                else:
                    item[name] = value
        for name in self.dropped:
            item.pop(name, None)
        return item

    def live(self, order: str = "asc") -> Iterable[int]:
        indexes = range(self.count()) if order == "asc" else range(self.count() - 1, -1, -1)
        removed = self.removed
        return (i for i in indexes if i not in removed)

    def pick(self, rng: Rng, before_ms: int | None = None) -> int | None:
        """A random index among items created before ``before_ms`` (or among the generated items).

        Generated items only ever refer to generated items, so adding items never changes them.
        """
        total = self.count_before(before_ms) if before_ms is not None else 0
        total = total or self.base
        return rng.below(total) if total else None
