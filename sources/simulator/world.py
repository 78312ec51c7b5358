"""A simulated workspace: its items (one ``Store`` per entity), its clock, and the changes tests make.

Items are never all held in memory: see ``store.py``. Everything here is deterministic for a seed and
sizes; mutations (``add``, ``update``, ``add_field``, ``remove``) are overlays on the generated data.
"""

import random
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from . import vocab
from .analytics import Analytics
from .clock import DAY_MS, iso_ms, to_ms
from .generate import Ctx, Identity, build, compile_object
from .ids import random_uuid
from .pages import list_page
from .rand import Rng, mix64
from .realism import lead_identity, workspace_object
from .registry import ADD_ONS, DERIVED, ENTITIES, workspace_schema
from .store import Store

DateLike = str | date | datetime | None
"""A day for the analytics helpers: a ``date``, or a string passed on as the request parameter."""


class World:
    """A deterministic workspace. Same ``seed`` and ``sizes`` (and day) give the same items.

    ``sizes`` maps entity names (the warehouse table names: ``campaigns``, ``accounts``, ``leads``,
    ``emails``, ``audit_logs``, ``lead_lists``, ... see ``registry.ENTITIES``) to item counts; missing
    entities get small defaults. ``account_campaign_mappings`` is accepted but derived (the campaigns'
    ``email_list``), so its size is ignored. ``anchor`` is the end of the generated data (default: one
    hour before today's UTC midnight, so reruns on one day produce identical ids); data spreads over the
    ~180 days before it (legacy leads are older). The world clock is real UTC now plus an offset moved
    by ``advance``. Analytics (``campaign_daily`` and friends) run from each campaign's or account's
    creation day to the world's today; ``touch_analytics`` changes recent days.

    ``mixed_numbers`` (on by default, as in a real workspace): a spec ``number`` holds whole numbers in some
    items and fractions in others (delays, limits and rates as generated; deal values in the analytics), which
    JSON writes as ``3`` and ``2.5``. Off, generated numbers are whole, and rates and scores fractional, as
    their generators draw them.

    ``messy`` (off by default): leads also carry what real workspaces carry (emoji, right-to-left, CJK and
    invisible characters in names, 10,000-character strings, payloads with typed keys, four levels of nesting,
    lists, and keys whose type changes from lead to lead), in the shares ``messy.py`` documents. The other
    values are those of the clean world with the same seed.

    ``missing_add_ons`` (names of ``registry.ADD_ONS``, e.g. ``{"ai-agents"}``): paid add-ons the workspace's
    plan lacks; their endpoints answer 402.
    """

    def __init__(
        self,
        seed: int = 0,
        sizes: dict[str, int] | None = None,
        *,
        name: str | None = None,
        anchor: datetime | None = None,
        plan_active: bool = True,
        mixed_numbers: bool = True,
        messy: bool = False,
        missing_add_ons: Iterable[str] = (),
    ) -> None:
        known = set(ENTITIES) | set(DERIVED)
        unknown = set(sizes or {}) - known
        if unknown:
            raise ValueError(f"unknown entities {sorted(unknown)}; known: {sorted(known)}")
        self.missing_add_ons = frozenset(missing_add_ons)
        if not self.missing_add_ons <= set(ADD_ONS):
            raise ValueError(
                f"unknown add-ons {sorted(self.missing_add_ons - set(ADD_ONS))}; known: {sorted(ADD_ONS)}"
            )
        self.seed = seed
        self.name = name or f"sim-workspace-{seed}"
        self.plan_active = plan_active
        self.mixed_numbers = mixed_numbers
        self.messy = messy
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
        names = list(zip(pools.sample(vocab.FIRST_NAMES, 4), pools.sample(vocab.LAST_NAMES, 4), strict=True))
        self.users = [
            (random_uuid(mix64(seed, 0x05E2, k)), f"{f[0]} {last[0]}") for k, (f, last) in enumerate(names)
        ]
        self.list_ids = [random_uuid(mix64(seed, 0x1157, k)) for k in range(pools.randint(3, 6))]
        self.subsequence_ids = [random_uuid(mix64(seed, 0x5B5E, k)) for k in range(pools.randint(2, 4))]
        self.tag_ids = [random_uuid(mix64(seed, 0x7A65, k)) for k in range(pools.randint(3, 6))]
        kinds = ("str", "str", "int", "float", "bool", "null", "nested", "mixed", "date")
        self.custom_variables = [
            (n, pools.choice(kinds)) for n in pools.sample(vocab.CUSTOM_VARIABLE_NAMES, 25)
        ]
        company_domain = pools.choice(vocab.COMPANIES)[1]
        self.user_people = [(f[0], last[0], f"{f[1]}.{last[1]}@{company_domain}") for f, last in names]
        """(first name, last name, email) of each of ``users``."""
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
        # references from generated items point at real lead lists, subsequences and custom tags
        self.list_ids = self._generated_keys("lead_lists") or self.list_ids
        self.subsequence_ids = self._generated_keys("subsequences") or self.subsequence_ids
        self.tag_ids = self._generated_keys("custom_tags") or self.tag_ids
        self._workspace: dict[str, Any] | None = None
        self._cache: dict[str, tuple[int, Any]] = {}
        self.analytics = Analytics(self)

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
        """Every current item, as the API serves it, in the API's default order (a full cursor walk).

        For a list per parent (``account_campaign_mappings``): every parent's items, parent by parent,
        each with the parent's key added (``account_email``).
        """
        if entity in DERIVED:
            derived = DERIVED[entity]
            return [
                {derived.parent_column: parent, **item}
                for parent in self.ids(derived.parent)
                for item in self.account_campaigns(parent)
            ]
        store = self.store(entity)
        with self._lock:
            return [self._served(store, i) for i in store.live(store.entity.order)]

    def ids(self, entity: str) -> list[str]:
        """Primary keys of the current items (accounts: email), in the API's default order.

        ``account_campaign_mappings``: ``"<account email>&<campaign id>"``.
        """
        if entity in DERIVED:
            derived = DERIVED[entity]
            return [f"{item[derived.parent_column]}&{item[derived.key_field]}" for item in self.items(entity)]
        store = self.store(entity)
        with self._lock:
            return [store.key(i) for i in store.live(store.entity.order)]

    def account_campaigns(self, email: str) -> list[dict[str, Any]]:
        """``GET /account-campaign-mappings/{email}``, all pages: the campaigns whose ``email_list``
        holds this account, oldest first. KeyError for an account that does not exist."""
        store = self.store("accounts")
        with self._lock:
            index = store.index_of(email)
            if index is None or index in store.removed:
                raise KeyError(email)
            return [dict(row) for row in self._mappings().get(email, [])]

    def _mappings(self) -> dict[str, list[dict[str, Any]]]:
        def build() -> dict[str, list[dict[str, Any]]]:
            schema = DERIVED["account_campaign_mappings"].item_schema["properties"]
            store = self.store("campaigns")
            by_account: dict[str, list[dict[str, Any]]] = {}
            for index in store.live():
                campaign = store.item(index)
                row = {
                    "campaign_id": campaign["id"],
                    "campaign_name": campaign.get("name", ""),
                    "timestamp_created": campaign["timestamp_created"],
                }
                if "status" in schema and campaign.get("status") is not None:
                    row["status"] = campaign["status"]
                for email in dict.fromkeys(campaign.get("email_list") or []):
                    by_account.setdefault(email, []).append(row)
            return by_account

        return self._cached("mappings", build)

    def tags_of(self, resource_id: str) -> list[dict[str, Any]]:
        """The custom tags mapped to an account (by email) or a campaign, as ``{id, label, description}``."""
        return [dict(tag) for tag in self._tags().get(resource_id, [])]

    def _tags(self) -> dict[str, list[dict[str, Any]]]:
        def build() -> dict[str, list[dict[str, Any]]]:
            tags_store, mappings = self.stores["custom_tags"], self.stores["custom_tag_mappings"]
            tags = {}
            for index in tags_store.live():
                tag = tags_store.item(index)
                tags[tag["id"]] = {
                    "id": tag["id"],
                    "label": tag["label"],
                    "description": tag.get("description"),
                }
            by_resource: dict[str, list[dict[str, Any]]] = {}
            for index in mappings.live():
                mapping = mappings.item(index)
                tag = tags.get(mapping.get("tag_id"))
                if tag is not None:
                    by_resource.setdefault(mapping["resource_id"], []).append(tag)
            return by_resource

        return self._cached("tags", build)

    def leads_per_campaign(self) -> dict[str, int]:
        """How many current leads each campaign holds (a scan of the leads, cached until a change)."""

        def build() -> dict[str, int]:
            store = self.stores["leads"]
            counts: dict[str, int] = {}
            for index in store.live():
                campaign = store.item(index).get("campaign")
                if campaign:
                    counts[campaign] = counts.get(campaign, 0) + 1
            return counts

        return self._cached("leads_per_campaign", build)

    def tracking_domains(self) -> frozenset[str]:
        """The custom tracking domains (``tracking_domain_name``) of the current accounts."""

        def build() -> frozenset[str]:
            return frozenset(
                a["tracking_domain_name"] for a in self.items("accounts") if a.get("tracking_domain_name")
            )

        return self._cached("tracking_domains", build)

    def unread_emails(self) -> int:
        """How many current emails are unread (``is_unread`` set)."""
        return self._cached(
            "unread_emails", lambda: sum(bool(e.get("is_unread")) for e in self.items("emails"))
        )

    def _cached(self, name: str, build: Callable[[], Any]) -> Any:
        """``build()``, remembered until the world changes (``version``)."""
        with self._lock:
            found = self._cache.get(name)
            if found is None or found[0] != self.version:
                found = self._cache[name] = (self.version, build())
            return found[1]

    # ---------------------------------------------------------------------------------- analytics
    def campaign_totals(
        self, ids: Iterable[str] | None = None, start: DateLike = None, end: DateLike = None
    ) -> list[dict[str, Any]]:
        """``GET /campaigns/analytics`` as served: one row per campaign (all, or ``ids``) for the range."""
        return self.analytics.campaign_totals({"ids": list(ids or []), **_dates(start, end)})

    def campaign_overview(
        self,
        ids: Iterable[str] | None = None,
        start: DateLike = None,
        end: DateLike = None,
        *,
        expand_crm_events: bool = False,
    ) -> dict[str, Any]:
        """``GET /campaigns/analytics/overview`` as served: one object of totals."""
        params = {"ids": list(ids or []), "expand_crm_events": expand_crm_events, **_dates(start, end)}
        return self.analytics.campaign_overview(params)

    def campaign_daily(
        self, campaign_id: str | None = None, start: DateLike = None, end: DateLike = None
    ) -> list[dict[str, Any]]:
        """``GET /campaigns/analytics/daily`` as served: rows per date (no campaign id); without
        ``campaign_id`` summed over every campaign."""
        return self.analytics.campaign_daily({"campaign_id": campaign_id, **_dates(start, end)})

    def campaign_steps(
        self,
        campaign_id: str | None = None,
        start: DateLike = None,
        end: DateLike = None,
        *,
        include_opportunities_count: bool = False,
    ) -> list[dict[str, Any]]:
        """``GET /campaigns/analytics/steps`` as served: rows per step and variant (no campaign id)."""
        params = {
            "campaign_id": campaign_id,
            "include_opportunities_count": include_opportunities_count,
            **_dates(start, end),
        }
        return self.analytics.campaign_steps(params)

    def account_daily(
        self, emails: Iterable[str], start: DateLike = None, end: DateLike = None
    ) -> list[dict[str, Any]]:
        """``GET /accounts/analytics/daily`` as served, for any number of accounts and any range (the
        endpoint's 200-account and 31-day limits do not apply here)."""
        return self.analytics.account_daily({"emails": list(emails), **_dates(start, end)}, limits=False)

    def subsequence_totals(self, campaign_id: str) -> list[dict[str, Any]]:
        """``GET /subsequences/analytics?campaign_id=`` as served: totals per subsequence of the campaign."""
        return self.analytics.subsequence_totals({"campaign_id": campaign_id})

    def touch_analytics(self, days: int = 3) -> None:
        """Late events: the figures of the last ``days`` days (today included) change; older days keep
        theirs. Every day of that window with emails sent gets more opens (and maybe replies, clicks)."""
        with self._lock:
            self.version += 1
            self.analytics.touch(days)

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
                    item[store.entity.key_field] = store.new_key(index, created_ms)
                if store.updated_field:
                    item[store.updated_field] = item[store.entity.time_field]
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
        if store.entity.append_only:
            raise ValueError(f"{entity} are append-only: items never change once created")
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
                if store.updated_field and store.updated_field not in change:
                    change[store.updated_field] = iso_ms(now_ms)
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

    def churn(self, entity: str, deleted: int = 0, changed: int = 0) -> None:
        """What a workspace does between two syncs: ``deleted`` items spread evenly over the list go, then
        ``changed`` random live ones change (``update``)."""
        if deleted:
            ids = self.ids(entity)
            step = max(1, len(ids) // deleted)
            self.remove(entity, ids[::step][:deleted])
        if changed:
            self.update(entity, changed)

    # ------------------------------------------------------------------------------ references
    def pick_index(self, entity: str, rng: Rng, before_ms: int | None = None) -> int | None:
        return self.stores[entity].pick(rng, before_ms)

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
    def _generated_keys(self, entity: str, cap: int = 1000) -> list[str]:
        """Keys of the first generated items of ``entity`` (what other generated items refer to)."""
        store = self.stores[entity]
        return [store.key(index) for index in range(min(store.base, cap))]

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


def _dates(start: DateLike, end: DateLike) -> dict[str, str]:
    """``start_date`` / ``end_date`` request parameters from dates (or strings, passed as they are)."""
    found = {}
    for name, value in (("start_date", start), ("end_date", end)):
        if isinstance(value, date):  # datetime too
            found[name] = value.isoformat()
        elif value is not None:
            found[name] = str(value)
    return found
