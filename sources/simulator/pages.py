"""One page of a list endpoint: filters, order, cursor, ``limit`` and ``next_starting_after``.

The rules reproduced (NOTES.md): ``next_starting_after`` is present iff the page is full, so a list whose
size is a multiple of ``limit`` ends with a full page carrying a cursor, then an empty page. The cursor
is the last item's id (a UUID, or a 24-hex ObjectId for background jobs), or ``timestamp_created&email``
for accounts, or a timestamp (lead lists, lead labels); an id cursor is resolved by looking up the item's
position, never by comparing ids (legacy lead ids are out of order).
"""

from typing import TYPE_CHECKING, Any

from .clock import parse_instant
from .errors import ApiError
from .registry import Entity, Filter, Predicate

if TYPE_CHECKING:
    from .store import Store

DEFAULT_LIMIT = 10


def list_page(store: "Store", params: dict[str, Any], *, repeat_item: bool = False) -> dict[str, Any]:
    """The response object for one list request (``params`` already validated against the spec)."""
    entity = store.entity
    limit = params.get("limit")
    limit = DEFAULT_LIMIT if limit is None else limit
    order = entity.order
    if entity.sort_param and params.get(entity.sort_param):
        order = params[entity.sort_param]
    descending = order == "desc"
    low, high, predicates = _narrow(store, entity.filters, params)
    after = params.get("starting_after")
    position = _start(store, after, descending) if after not in (None, "") else None
    if position is None:
        position = high - 1 if descending else low
    elif descending:
        position = min(position, high - 1)
    else:
        position = max(position, low)

    step = -1 if descending else 1
    repeated = _previous(store, after, descending) if repeat_item and after and limit > 1 else None
    wanted = limit if repeated is None else limit - 1
    chosen: list[tuple[int, dict[str, Any]]] = []
    removed = store.removed
    index = position
    while low <= index < high and len(chosen) < wanted:
        if index not in removed:
            item = store.item(index)
            if not predicates or all(test(item) for test in predicates):
                chosen.append((index, item))
        index += step

    if entity.views or entity.hidden_unless:
        items = [entity.present(item, params) for _, item in chosen]
    else:
        items = [item for _, item in chosen]
    if repeated is not None:
        items.insert(0, entity.present(store.item(repeated), params))
    response: dict[str, Any] = {"items": items}
    if len(items) == limit and chosen:
        response["next_starting_after"] = cursor_of(entity, chosen[-1][1])
    return response


def cursor_of(entity: Entity, item: dict[str, Any]) -> str:
    if entity.cursor == "timestamp_email":
        return f"{item[entity.time_field]}&{item[entity.key_field]}"
    if entity.cursor == "timestamp":
        return str(item[entity.time_field])
    return str(item[entity.key_field])


def _invalid_cursor(value: Any) -> ApiError:
    return ApiError(400, f"Invalid starting_after value: {str(value)[:100]!r}")


def _start(store: "Store", after: Any, descending: bool) -> int:
    """The first index to serve after cursor ``after`` in the given direction."""
    entity = store.entity
    if entity.cursor == "id":
        index = store.index_of(after)
        if index is None:
            raise _invalid_cursor(after)
        return index - 1 if descending else index + 1
    text = str(after)
    if entity.cursor == "timestamp_email":
        stamp, _, key = text.partition("&")
        unix_ms = parse_instant(stamp)
        if unix_ms is None:
            raise _invalid_cursor(after)
        if not key:  # legacy cursor: a bare ISO timestamp, strictly after it
            key = "\U0010ffff"
        at_or_before = store.count_at_or_before(unix_ms, key)
        if not descending:
            return at_or_before
        last = at_or_before - 1
        exact = last >= 0 and (store.ms(last), store.key(last)) == (unix_ms, key)
        return last - 1 if exact else last
    unix_ms = parse_instant(text)
    if unix_ms is None:
        raise _invalid_cursor(after)
    return store.count_before(unix_ms) - 1 if descending else store.count_before(unix_ms + 1)


def _previous(store: "Store", after: Any, descending: bool) -> int | None:
    """The item the cursor points at (the previous page's last item), for the ``repeat_item`` fault."""
    index = _start(store, after, descending) + (1 if descending else -1)
    return index if 0 <= index < store.count() else None


def _narrow(
    store: "Store", filters: tuple[Filter, ...], params: dict[str, Any]
) -> tuple[int, int, list[Predicate]]:
    """Index range from time filters (binary search) and predicates for the rest."""
    low, high = 0, store.count()
    predicates: list[Predicate] = []
    for spec_filter in filters:
        value = params.get(spec_filter.param)
        if value is None or value == "" or value == []:
            continue
        op = spec_filter.op
        if op in ("since", "until", "before"):
            unix_ms = parse_instant(str(value), end_of_day=op == "until")
            if unix_ms is None:
                raise ApiError(400, f"{spec_filter.param} must be an ISO 8601 date-time or a YYYY-MM-DD date")
            if op == "since":
                low = max(low, store.count_before(unix_ms))
            elif op == "until":
                high = min(high, store.count_before(unix_ms + 1))
            else:
                high = min(high, store.count_before(unix_ms))
            continue
        predicates.append(_predicate(spec_filter, value, store.world))
    return low, high, predicates


def _predicate(spec_filter: Filter, value: Any, world: Any) -> Predicate:
    name = spec_filter.target
    op = spec_filter.op
    if op == "custom":
        assert spec_filter.build is not None
        return spec_filter.build(value, world) if spec_filter.with_world else spec_filter.build(value)
    if op == "eq":
        return lambda item: item.get(name) == value
    if op == "ne":
        return lambda item: item.get(name) != value
    if op in ("any_of", "none_of"):
        parts = value if isinstance(value, list) else str(value).split(",")
        wanted = {str(part).strip() for part in parts}
        if op == "any_of":
            return lambda item: _text(item.get(name)) in wanted
        return lambda item: _text(item.get(name)) not in wanted
    if op == "contains":
        needle = str(value).lower()
        fields = spec_filter.fields or (name,)
        return lambda item: any(needle in str(item.get(f) or "").lower() for f in fields)
    if op in ("in", "not_in"):
        members = set(value if isinstance(value, list) else [value])
        if op == "in":
            return lambda item: item.get(name) in members
        return lambda item: item.get(name) not in members
    if op == "truthy":
        return lambda item: bool(item.get(name)) == bool(value)
    raise ValueError(f"unknown filter op {op!r}")


def _text(value: Any) -> str:
    """A field value as it would be written in a query string (``1.0`` -> ``1``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
