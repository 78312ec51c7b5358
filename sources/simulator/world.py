"""A simulated workspace: its items (one ``Store`` per entity), its clock, and the changes tests make.

Items are never all held in memory: see ``store.py``. Everything here is deterministic for a seed and
sizes; mutations (``add``, ``update``, ``add_field``, ``remove``) are overlays on the generated data.
"""

import random
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from . import vocab
from .clock import DAY_MS, iso_ms, to_ms
from .generate import Ctx, Identity, build, compile_object
from .ids import random_uuid
from .pages import list_page
from .rand import Rng, mix64
from .realism import lead_identity, workspace_object
from .registry import ENTITIES, workspace_schema
from .store import Store


class World:
    """A deterministic workspace. Same ``seed`` and ``sizes`` (and day) give the same items.

    ``sizes`` maps entity names (``campaigns``, ``accounts``, ``leads``, ``emails``, ``audit_logs``) to
    item counts; missing entities get small defaults. ``anchor`` is the end of the generated data
    (default: one hour before today's UTC midnight, so reruns on one day produce identical ids); data
    spreads over the ~180 days before it (legacy leads are older). The world clock is real UTC now plus
    an offset moved by ``advance``.
    """

    def __init__(
        self,
        seed: int = 0,
        sizes: dict[str, int] | None = None,
        *,
        name: str | None = None,
        anchor: datetime | None = None,
        plan_active: bool = True,
    ) -> None:
        unknown = set(sizes or {}) - set(ENTITIES)
        if unknown:
            raise ValueError(f"unknown entities {sorted(unknown)}; known: {sorted(ENTITIES)}")
        self.seed = seed
        self.name = name or f"sim-workspace-{seed}"
        self.plan_active = plan_active
        self._offset = timedelta(0)
        self._lock = threading.RLock()
        self.version = 0
        """Bumped by every change to the data (``add``, ``update``, ``add_field``, ...)."""
        if anchor is None:
            midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            anchor = midnight - timedelta(hours=1)
        self.anchor_ms = to_ms(anchor)
        self.origin_ms = self.anchor_ms - 200 * DAY_MS
        pools = random.Random(mix64(seed, 0xB00C))
        self.org_id = random_uuid(mix64(seed, 0x0126))
        self.users = [
            (random_uuid(mix64(seed, 0x05E2, k)), f"{f[0]} {last[0]}")
            for k, (f, last) in enumerate(
                zip(pools.sample(vocab.FIRST_NAMES, 4), pools.sample(vocab.LAST_NAMES, 4), strict=True)
            )
        ]
        self.list_ids = [random_uuid(mix64(seed, 0x1157, k)) for k in range(pools.randint(3, 6))]
        self.subsequence_ids = [random_uuid(mix64(seed, 0x5B5E, k)) for k in range(pools.randint(2, 4))]
        self.tag_ids = [random_uuid(mix64(seed, 0x7A65, k)) for k in range(pools.randint(3, 6))]
        kinds = ("str", "str", "int", "float", "bool", "null", "nested", "mixed", "date")
        self.custom_variables = [
            (n, pools.choice(kinds)) for n in pools.sample(vocab.CUSTOM_VARIABLE_NAMES, 25)
        ]
        company_domain = pools.choice(vocab.COMPANIES)[1]
        self.sending_domains = [
            f"{prefix}{company_domain}" for prefix in pools.sample(("get", "try", "hello", "mail-", "go"), 3)
        ]
        self._account_mul = next(
            m for m in range(1_000_003, 2_000_000, 2) if _coprime(m, self._account_space)
        )
        self._account_add = pools.randrange(self._account_space)
        self.stores = {
            name: Store(self, entity, (sizes or {}).get(name, entity.default_size))
            for name, entity in ENTITIES.items()
        }
        self._workspace: dict[str, Any] | None = None

    # ---------------------------------------------------------------------------------------- clock
    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def now_ms(self) -> int:
        return to_ms(self.now())

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    # ------------------------------------------------------------------------------------ reading
    def store(self, entity: str) -> Store:
        try:
            return self.stores[entity]
        except KeyError:
            raise KeyError(f"unknown entity {entity!r}; known: {sorted(self.stores)}") from None

    def items(self, entity: str) -> list[dict[str, Any]]:
        """Every current item, as the API serves it, in the API's default order (a full cursor walk)."""
        store = self.store(entity)
        with self._lock:
            return [self._served(store, i) for i in store.live(store.entity.order)]

    def ids(self, entity: str) -> list[str]:
        """Primary keys of the current items (accounts: email), in the API's default order."""
        store = self.store(entity)
        with self._lock:
            return [store.key(i) for i in store.live(store.entity.order)]

    def get(self, entity: str, key: str) -> dict[str, Any]:
        """One current item by key, as served."""
        store = self.store(entity)
        with self._lock:
            index = store.index_of(key)
            if index is None or index in store.removed:
                raise KeyError(key)
            return self._served(store, index)

    def count(self, entity: str) -> int:
        store = self.store(entity)
        with self._lock:
            return store.count() - len(store.removed)

    def page(self, entity: str, params: dict[str, Any], *, repeat_item: bool = False) -> dict[str, Any]:
        """One list response for validated request parameters (what the server sends)."""
        store = self.store(entity)
        with self._lock:
            return list_page(store, params, repeat_item=repeat_item)

    def workspace(self) -> dict[str, Any]:
        """The ``GET /workspaces/current`` object."""
        if self._workspace is None:
            self._workspace = workspace_object(workspace_schema(), self)
        return dict(self._workspace)

    # ---------------------------------------------------------------------------------- mutations
    def add(self, entity: str, count: int = 1) -> list[dict[str, Any]]:
        """``count`` new items created now (world clock), appended after every existing item."""
        store = self.store(entity)
        with self._lock:
            self.version += 1
            created = []
            for _ in range(count):
                index = store.count()
                previous = store.ms(index - 1) if index else 0
                created_ms = max(self.now_ms(), previous + 1)
                item = store.generate(index, created_ms, created_ms)
                if store.entity.key_of is not None:
                    item[store.entity.key_field] = store.entity.key_of(self, index)
                else:
                    item[store.entity.key_field] = store.codec.v7(index, created_ms)
                if store.has_updated:
                    item["timestamp_updated"] = item[store.entity.time_field]
                store.added.append(item)
                store.added_ms.append(created_ms)
                created.append(index)
            return [self._served(store, i) for i in created]

    def update(
        self,
        entity: str,
        count: int | None = None,
        *,
        ids: Iterable[str] | None = None,
        changes: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Change ``count`` random items (or the items ``ids``): some fields, ``timestamp_updated`` = now.

        ``changes`` sets exactly those fields (``ABSENT`` removes a key); without it each item gets a
        plausible change (the entity's ``mutate`` hook, else new values for a few writable fields).
        """
        store = self.store(entity)
        forbidden = {store.entity.key_field, store.entity.time_field} & set(changes or {})
        if forbidden:
            raise ValueError(f"cannot change {sorted(forbidden)}: they decide identity and order")
        with self._lock:
            self.version += 1
            rng = Rng(self.seed, 0x0DA7E, self.version)
            if ids is not None:
                indexes = [self._index(store, key) for key in ids]
            else:
                live = store.count() - len(store.removed)
                wanted = min(count if count is not None else 1, live)
                chosen: dict[int, None] = {}
                while len(chosen) < wanted:
                    index = rng.below(store.count())
                    if index not in store.removed:
                        chosen[index] = None
                indexes = list(chosen)
            now_ms = self.now_ms()
            for index in indexes:
                current = store.item(index)
                if changes is not None:
                    change = dict(changes)
                else:
                    ctx = Ctx(self, index, store.ms(index), now_ms, store.entity.time_field)
                    change = (store.entity.mutate or self._default_mutate(store))(current, rng, ctx)
                if store.has_updated and "timestamp_updated" not in change:
                    change["timestamp_updated"] = iso_ms(now_ms)
                store.overlay.setdefault(index, {}).update(change)
            return [self._served(store, i) for i in indexes]

    def add_field(self, entity: str, name: str, value: Any | Callable[[dict[str, Any]], Any]) -> None:
        """Every item of ``entity`` (existing and future) now carries ``name`` (``value(item)`` if callable).

        Like a field the API starts returning: ``timestamp_updated`` does not move.
        """
        store = self.store(entity)
        with self._lock:
            self.version += 1
            store.fields.append((name, value))
            store.dropped.discard(name)

    def remove_field(self, entity: str, name: str) -> None:
        """No item of ``entity`` carries ``name`` any more (a field the API stopped returning)."""
        store = self.store(entity)
        with self._lock:
            self.version += 1
            store.dropped.add(name)

    def remove(self, entity: str, ids: Iterable[str]) -> None:
        """Delete items: they are no longer served (their ids stay valid as cursors)."""
        store = self.store(entity)
        with self._lock:
            self.version += 1
            for key in ids:
                store.removed.add(self._index(store, key))

    # ------------------------------------------------------------------------------ references
    def pick_key(self, entity: str, rng: Rng, before_ms: int | None = None) -> str | None:
        store = self.stores[entity]
        index = store.pick(rng, before_ms)
        return None if index is None else store.key(index)

    def pick_lead(self, rng: Rng, before_ms: int | None = None) -> tuple[str, Identity] | None:
        store = self.stores["leads"]
        index = store.pick(rng, before_ms)
        return None if index is None else (store.key(index), self.lead_identity(index))

    def lead_identity(self, index: int) -> Identity:
        return lead_identity(self, index)

    @property
    def _account_space(self) -> int:
        return len(vocab.FIRST_NAMES) * len(vocab.LAST_NAMES) * 3

    def account_identity(self, index: int) -> Identity:
        """A sending account's person: unique email for every index (a bijection, then a number)."""
        space = self._account_space
        code = (index % space * self._account_mul + self._account_add) % space
        first, first_ascii = vocab.FIRST_NAMES[code % len(vocab.FIRST_NAMES)]
        code //= len(vocab.FIRST_NAMES)
        last, last_ascii = vocab.LAST_NAMES[code % len(vocab.LAST_NAMES)]
        domain = self.sending_domains[code // len(vocab.LAST_NAMES)]
        number = index // space
        local = f"{first_ascii}.{last_ascii}{number or ''}"
        return Identity(first, last, f"{local}@{domain}", self.name, domain)

    # ---------------------------------------------------------------------------------- helpers
    def _index(self, store: Store, key: str) -> int:
        index = store.index_of(key)
        if index is None:
            raise KeyError(f"{store.entity.name}: no item {key!r}")
        return index

    def _served(self, store: Store, index: int) -> dict[str, Any]:
        """A private copy of the item exactly as the API would serve it (through JSON and back)."""
        return orjson.loads(orjson.dumps(store.entity.present(store.item(index), {})))

    def _default_mutate(self, store: Store) -> Callable[[dict[str, Any], Rng, Ctx], dict[str, Any]]:
        properties = store.entity.item_schema.get("properties", {})
        writable = [
            name
            for name, prop in properties.items()
            if not prop.get("readOnly") and name not in (store.entity.key_field, store.entity.time_field)
        ]
        plan = compile_object({"properties": {name: properties[name] for name in writable}})

        def mutate(item: dict[str, Any], rng: Rng, ctx: Ctx) -> dict[str, Any]:
            fresh = build(plan, rng, ctx)
            names = rng.sample(sorted(fresh), rng.between(1, 3)) if fresh else []
            return {name: fresh[name] for name in names}

        return mutate


def _coprime(a: int, b: int) -> bool:
    while b:
        a, b = b, a % b
    return a == 1
