"""The one place items are read and cleaned before dlt sees them, and the rows of the `_rejected` table.

Answers are parsed with `loads`: orjson, or, for JSON that orjson refuses but that still reads as JSON (lone
UTF-16 surrogates such as `"\\ud800"`, raw control characters in strings, stray invalid UTF-8), the lenient
standard parser. `needs_cleaning` tells from the JSON text whether a page needs a closer look.

Every resource passes its pages through `ItemPreparer.prepare`: NUL characters (Postgres rejects them) are
removed, lone surrogates (no UTF-8 encoder takes them) become U+FFFD, empty-string dates (the API's "no
date") become null, null lists that dlt stores as child tables are left out (`child_table_fields`). Items
that cannot be loaded go to `_rejected` (see `rejected_rows`) instead of being dropped or failing the load:
not an object, no key, a key that is an object or a list, a number beyond 64 bits, nesting deeper than dlt
writes.
"""

import hashlib
import json
import math
import sys
from datetime import UTC, datetime
from typing import Any

import dlt
import orjson

from . import settings
from .columns import child_table_fields, timestamp_fields
from .endpoints import Endpoint
from .merging import merge_disposition

REJECTED_TABLE = "_rejected"

_INT64_LIMIT = 2**63
_MAX_PARSED_DEPTH = 1024  # orjson reads no deeper
TOO_DEEP = "the item is nested too deeply to store (dlt writes 254 levels at most)"
# What needs a closer look in JSON text: a raw NUL, an escaped NUL or surrogate, or a number of 19+ digits or
# with an exponent of two digits or more. Checked with C-speed scans of a page (one regex over a whole page
# costs more than parsing it): the text is mapped to its shapes (digits to `0`, exponent marks to `e`, what
# may precede a number to `:`, a sign to `0`, other letters to `x`), so a number is told from the hex digits
# of ids (UUIDs are full of "1e35") by what stands before its mantissa.
_SURROGATE_ESCAPES = (b"\\ud", b"\\uD")
_SURROGATE_SECOND = frozenset(b"89abcdefABCDEF")
_SHAPE_OF = {b"0123456789+": b"0", b"eE": b"e", b":,[ \t\r\n": b":", b".": b".", b"-": b"-"}
_SHAPES = bytes(
    next((shape[0] for chars, shape in _SHAPE_OF.items() if byte in chars), ord("x")) for byte in range(256)
)
_LONG_NUMBER = b"0" * 19
_EXPONENT = b"0e00"  # a mantissa digit, then an exponent of two digits or more (or a sign and one)
_MANTISSA_WINDOW = 64  # a longer mantissa has 19+ digits


def loads(content: bytes) -> Any:
    """The JSON in `content`; raises ValueError when even the lenient parser cannot read it."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(content.decode("utf-8", "replace"), strict=False)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply to read") from None


def needs_cleaning(content: bytes) -> bool:
    """True when a page's JSON text may decode to what no destination stores as it is: strings with NUL or
    lone surrogates (cleaned), numbers beyond 64 bits (rejected). Pass it to `ItemPreparer.prepare`."""
    if b"\x00" in content or (b"\\u" in content and (b"\\u0000" in content or _surrogate_escape(content))):
        return True
    shapes = content.translate(_SHAPES)
    return _LONG_NUMBER in shapes or _exponent_number(shapes)


def _surrogate_escape(content: bytes) -> bool:
    for escape in _SURROGATE_ESCAPES:
        at = content.find(escape)
        while at != -1:
            if content[at + 3 : at + 4] and content[at + 3] in _SURROGATE_SECOND:
                return True
            at = content.find(escape, at + 3)
    return False


def _exponent_number(shapes: bytes) -> bool:
    """Is an exponent of two digits or more (as shapes) somewhere the end of a number's mantissa, not of a
    run of hex digits?"""
    at = shapes.find(_EXPONENT)
    while at != -1:
        before = shapes[max(0, at - _MANTISSA_WINDOW) : at + 1].rstrip(b"0.").rstrip(b"-")
        if not before or before.endswith(b":"):
            return True
        at = shapes.find(_EXPONENT, at + 1)
    return False


def clean_text(text: str) -> str:
    if settings.NUL in text:
        text = text.replace(settings.NUL, "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the only str that UTF-8 cannot encode
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def clean_strings(value: Any) -> Any:
    """`value` with NUL removed from, and lone surrogates replaced in, every string and key."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_strings(k): clean_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_strings(v) for v in value]
    return value


def rejected_rows(rows: list[dict[str, Any]], key: tuple[str, ...] = ("rejected_id",)) -> Any:
    """`_rejected` rows, marked for their own table: own columns, merged on `key` (`rejected_id`, after the
    workspace columns when several workspaces share the dataset).

    A hash of (resource, raw JSON) is the key, so an item rejected on every run, or again after a resumed
    load, is one row, whose `rejected_at` says when it was last seen.

    Both the table variant and the empty `columns` matter. Without the variant dlt merges these hints into
    the resource's own, so every later page of the resource goes to `_rejected`. A variant starts from a copy
    of the resource's hints, columns included (a non-null `id` would fail the very row being rejected), and
    dlt merges columns given here into those; only empty columns replace them. The columns' types are then
    inferred from the rows, which always carry all of them.
    """
    hints = dlt.mark.make_hints(
        table_name=REJECTED_TABLE,
        write_disposition=merge_disposition(),
        primary_key=list(key),
        columns={},
    )
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


class ItemPreparer:
    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self._timestamps = timestamp_fields(endpoint)
        self._lists = child_table_fields(endpoint)

    def prepare(
        self, items: list[Any], needs_a_closer_look: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Split a page into loadable items (cleaned) and `_rejected` rows (with the item as received).

        `needs_a_closer_look` (`needs_cleaning` of the page's JSON text): strings are cleaned and numbers
        checked. Without it, one fast serialization of the page still catches what dlt could not write.
        """
        for item in items:
            if isinstance(item, dict):
                for name in self.endpoint.drop_fields:  # key material: never stored, not even in `_rejected`
                    item.pop(name, None)
                for name, derive in self.endpoint.derived.items():  # from the item as the API sent it
                    item[name] = derive(item)
        good: list[tuple[Any, dict[str, Any]]] = []
        rejected: list[dict[str, Any]] = []
        for original in items:
            try:
                item = clean_strings(original) if needs_a_closer_look else original
                reason = self._unloadable(item) or (_wide_number(item) if needs_a_closer_look else None)
            except RecursionError:
                reason = TOO_DEEP
            if reason:
                rejected.append(self._rejected(original, reason))
                continue
            for name in self._timestamps:
                if item.get(name) == "":
                    item[name] = None
            for name in self._lists:
                if name in item and item[name] is None:
                    del item[name]
            good.append((original, item))
        try:  # what dlt does next, in one fast call; strict: an integer beyond 53 bits needs a closer look
            orjson.dumps([item for _, item in good], option=orjson.OPT_STRICT_INTEGER)
        except TypeError:
            good = self._storable(good, rejected)
        return [item for _, item in good], rejected

    def _unloadable(self, item: Any) -> str | None:
        if not isinstance(item, dict):
            return "the item is not a JSON object"
        if self.endpoint.null_key_value is not None:
            for name in self.endpoint.key_fields:
                if item.get(name) is None:
                    item[name] = self.endpoint.null_key_value
        for name in self.endpoint.key_fields:
            value = item.get(name)
            if value in (None, ""):
                return f"the item has no `{name}`, part of the table's key"
            if not _plain_key(value):
                return f"the item's `{name}`, part of the table's key, is a {type(value).__name__}"
        return None

    def _storable(
        self, good: list[tuple[Any, dict[str, Any]]], rejected: list[dict[str, Any]]
    ) -> list[tuple[Any, dict[str, Any]]]:
        """The items dlt can write; the others go to `rejected`: numbers beyond 64 bits, and nesting deeper
        than dlt's serializer goes."""
        kept = []
        for original, item in good:
            try:
                reason = _wide_number(item)
            except RecursionError:
                reason = TOO_DEEP
            if not reason:
                try:
                    orjson.dumps(item)
                except TypeError as exc:  # orjson: "Recursion limit reached" beyond 254 levels
                    reason = TOO_DEEP if "Recursion" in str(exc) else f"the item cannot be stored: {exc}"
            if reason:
                rejected.append(self._rejected(original, reason))
            else:
                kept.append((original, item))
        return kept

    def _rejected(self, item: Any, reason: str) -> dict[str, Any]:
        raw = _raw_json(item)
        digest = hashlib.sha256(f"{self.endpoint.name}\n{raw}".encode()).hexdigest()[:32]
        return {
            "rejected_id": digest,
            "resource": self.endpoint.name,
            "reason": reason,
            "raw_json": raw,
            "rejected_at": datetime.now(UTC),
        }


def _wide_number(item: Any) -> str | None:
    """Why `item` cannot load if it holds a number beyond the 64-bit integer range, else None.

    dlt types a column by the first value it sees and passes later numbers on unchecked, so such a number
    fails the whole load in a bigint column; orjson reads integers beyond 64 bits as floats, which does not
    help. No Instantly field holds magnitudes of 9.2e18 or more.
    """
    path = _wide_number_path(item, "")
    return f"`{path}` is a number beyond 64 bits, which no bigint column stores" if path else None


def _wide_number_path(value: Any, path: str) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return path or "the item" if math.isfinite(value) and abs(value) >= _INT64_LIMIT else None
    if isinstance(value, dict):
        found = (_wide_number_path(v, f"{path}.{k}" if path else str(k)) for k, v in value.items())
    elif isinstance(value, list):
        found = (_wide_number_path(v, f"{path}[{i}]") for i, v in enumerate(value))
    else:
        return None
    return next((p for p in found if p), None)


def _plain_key(value: Any) -> bool:
    """A key value stays one column; an object or a list would be flattened away, leaving the key null."""
    return not isinstance(value, dict | list)


def _raw_json(item: Any) -> str:
    """The item as received, as JSON text (NUL and lone surrogates as `\\u` escapes, which any text column
    stores)."""
    try:
        return orjson.dumps(item, default=str).decode()
    except TypeError:  # lone surrogates, integers beyond 64 bits, nesting beyond 254 levels
        pass
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * _MAX_PARSED_DEPTH))  # whatever a parser produced, written back
    try:
        return json.dumps(item, default=str)
    finally:
        sys.setrecursionlimit(limit)
