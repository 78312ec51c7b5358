"""dlt column hints derived from the spec's item schemas.

Declaring types up front means a column exists (and has the right type) even while every item so far had
it null or absent, and ISO strings land as timestamps rather than text. Every spec `number` (but enums of
whole numbers) is declared double wherever dlt's normalizer puts it, flattened object fields and child
tables included: JSON writes `3` in one item and `2.5` in the next, and a column typed by its first value
would send the fractions to a `__v_double` variant column.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dlt
from dlt.common.normalizers.naming import NamingConvention

from . import spec
from .endpoints import ENDPOINTS, Endpoint
from .settings import MAX_TABLE_NESTING

_SCALAR_TYPES = {"string": "text", "boolean": "bool", "integer": "bigint"}


def _types(prop: dict[str, Any]) -> list[str]:
    declared = prop.get("type")
    return [declared] if isinstance(declared, str) else list(declared or [])


def _base_type(prop: dict[str, Any]) -> str | None:
    types = [t for t in _types(prop) if t != "null"]
    return types[0] if len(types) == 1 else None


def is_json(name: str, prop: dict[str, Any]) -> bool:
    """Free-form or often-null objects and lists stay one JSON column.

    Objects with declared properties are flattened and lists of them become child tables; but a free-form
    object (custom variables, audit metadata) would add a column per user-defined key, and a nullable one
    is mostly absent, which leaves dlt nothing to infer its columns from.
    """
    types = _types(prop)
    if not {"object", "array"} & set(types):
        return False
    free_form = "properties" not in prop and "properties" not in prop.get("items", {})
    scalar_list = "array" in types and prop.get("items", {}).get("type") not in (None, "object")
    return not scalar_list and (free_form or "null" in types or name.endswith("_json"))


def is_date(prop: dict[str, Any]) -> bool:
    """Analytics dates: declared `format: date` or described as YYYY-MM-DD (the spec does both)."""
    if _base_type(prop) != "string":
        return False
    return prop.get("format") == "date" or "YYYY-MM-DD" in prop.get("description", "")


def is_timestamp(name: str, prop: dict[str, Any]) -> bool:
    if _base_type(prop) != "string" or prop.get("format") == "date":
        return False
    return prop.get("format") == "date-time" or name.startswith("timestamp_")


def is_whole_enum(prop: dict[str, Any]) -> bool:
    """Enum codes, listed in `enum` or only described in `x-enumDescriptions` (as `enum_labels` reads them):
    whole numbers even where the spec says `number` (a null among them means "unset")."""
    values = [v for v in prop.get("enum") or () if v is not None] or list(prop.get("x-enumDescriptions", ()))
    return bool(values) and all(isinstance(v, int) or str(v).lstrip("-").isdigit() for v in values)


def _stored_fields(endpoint: Endpoint) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, prop in endpoint.item_schema.get("properties", {}).items():
        if name not in endpoint.drop_fields:  # never stored, so never declared
            yield name, prop


def column_hints(endpoint: Endpoint, naming: NamingConvention) -> dict[str, dict[str, Any]]:
    """The columns of the resource's own table: its fields', and the spec numbers flattened into it."""
    numbers = [number.keys for number in spec_numbers(endpoint) if not number.tables]
    hints: dict[str, dict[str, Any]] = {}
    for name, prop in _stored_fields(endpoint):
        base = _base_type(prop)
        if is_json(name, prop):
            data_type = "json"
        elif is_date(prop):
            data_type = "date"
        elif is_timestamp(name, prop):
            data_type = "timestamp"
        elif base == "number":  # `spec_numbers` has them all but enum codes
            data_type = "double" if (name,) in numbers else "bigint"
        else:
            data_type = _SCALAR_TYPES.get(base or "")
        if data_type:
            hints[name] = {"name": name, "data_type": data_type, "nullable": name != endpoint.primary_key}
    for keys in numbers:
        if len(keys) > 1:  # a field of an object flattened into the row
            hints.update(_double_column(naming, keys))
    return hints


@dataclass(frozen=True)
class SpecNumber:
    """A spec `number` field (not an enum of whole numbers), located as dlt's relational normalizer stores it.

    `tables`: one entry per list on the way to the field, each the keys from the previous table's row to that
    list (objects flattened on the way, then the list): the child table; empty for the resource's own table.
    `keys`: the keys from that table's row to the field, flattened into one column (`value` for a list of
    numbers, which dlt's normalizer wraps so).
    """

    tables: tuple[tuple[str, ...], ...]
    keys: tuple[str, ...]


def spec_numbers(endpoint: Endpoint) -> Iterator[SpecNumber]:
    """Every spec `number` of the endpoint's items that dlt stores in a column of its own: not inside a field
    that stays JSON (`is_json` at the top, anything below dlt's nesting limit)."""
    yield from _numbers_in(dict(_stored_fields(endpoint)), (), (), MAX_TABLE_NESTING, top=True)


def _numbers_in(
    properties: dict[str, Any],
    tables: tuple[tuple[str, ...], ...],
    path: tuple[str, ...],
    level: int,
    top: bool = False,
) -> Iterator[SpecNumber]:
    """dlt's `_flatten` over a schema: an object or a list at `level` 0 stays JSON; objects flatten into the
    row one level down; a list's items are a child table's rows, one level below the row that holds it."""
    for name, prop in properties.items():
        prop = spec.resolve(prop)
        base = _base_type(prop) or ("object" if "properties" in prop else None)
        if base == "number" and not is_whole_enum(prop):
            yield SpecNumber(tables, (*path, name))
        if base not in ("object", "array") or level <= 0 or (top and is_json(name, prop)):
            continue
        if base == "object":
            yield from _numbers_in(prop.get("properties", {}), tables, (*path, name), level - 1)
            continue
        items = spec.resolve(prop.get("items", {}))
        child_level = level + len(path) - 1  # one below the row, however deep in it the list is
        child = (*tables, (*path, name))
        if "properties" in items:
            yield from _numbers_in(items["properties"], child, (), child_level)
        elif _base_type(items) == "number" and not is_whole_enum(items):
            yield SpecNumber(child, ("value",))


def _double_column(naming: NamingConvention, keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """A declared double column for a field flattened from `keys`. Named with each key normalized but the
    path not yet shortened: dlt shortens a declared name (past Postgres's 63 characters) from exactly that
    path, as its normalizer shortens the column it fills (`NamingConvention.shorten_fragments`)."""
    name = naming.make_path(*(naming.normalize_path(key) for key in keys))
    return {name: {"name": name, "data_type": "double", "nullable": True}}


def nested_hints(endpoint: Endpoint, naming: NamingConvention) -> dict[tuple[str, ...], dict[str, Any]]:
    """dlt `nested_hints` declaring the double columns of the endpoint's child tables, with an entry for each
    table between them and the root (dlt requires them), each naming its parent: a list inside a flattened
    object hangs from the row that holds the object, not from a table of the object's name."""
    hints: dict[tuple[str, ...], dict[str, Any]] = {}
    for number in (found for found in spec_numbers(endpoint) if found.tables):
        for depth in range(1, len(number.tables) + 1):
            parent = naming.make_path(*_table_fragments(naming, endpoint, number.tables[: depth - 1]))
            path = tuple(key for keys in number.tables[:depth] for key in keys)  # dlt's nested_hints key
            table = hints.setdefault(path, {"parent_table_name": parent, "columns": {}})
        table["columns"].update(_double_column(naming, number.keys))
    return hints


def _table_fragments(
    naming: NamingConvention, endpoint: Endpoint, tables: tuple[tuple[str, ...], ...]
) -> list[str]:
    """The normalized parts of a table's name: the resource's, then every key on the way to the table."""
    keys = (key for keys in tables for key in keys)
    return [naming.normalize_tables_path(endpoint.name), *map(naming.normalize_path, keys)]


def number_columns(naming: NamingConvention) -> dict[str, set[str]]:
    """Per table of every endpoint (its own and its child tables), the columns holding spec numbers, named as
    dlt names them in a schema with `naming` (shortened where the destination limits identifiers)."""
    found: dict[str, set[str]] = {}
    for endpoint in ENDPOINTS:
        for number in spec_numbers(endpoint):
            table = naming.shorten_fragments(*_table_fragments(naming, endpoint, number.tables))
            column = naming.shorten_fragments(*map(naming.normalize_path, number.keys))
            found.setdefault(table, set()).add(column)
    return found


def resource_columns(endpoint: Endpoint, shared: bool) -> dict[str, dict[str, Any]]:
    """The resource's declared columns: the spec's, and where workspaces share the dataset, theirs. Flattened
    names follow the naming convention of the source schema being extracted."""
    columns = column_hints(endpoint, dlt.current.source_schema().naming)
    if shared:
        columns["workspace_id"] = {"name": "workspace_id", "data_type": "text", "nullable": False}
        columns["workspace_name"] = {"name": "workspace_name", "data_type": "text", "nullable": True}
    return columns


def child_table_fields(endpoint: Endpoint) -> tuple[str, ...]:
    """Lists that dlt stores as child tables (not JSON). A null one is dropped from its item: it means what an
    empty list means (no child rows), and left in it would be a root column dlt can never type, which it
    warns about on every run."""
    resolved = ((name, spec.resolve(prop)) for name, prop in _stored_fields(endpoint))
    return tuple(name for name, prop in resolved if "array" in _types(prop) and not is_json(name, prop))


def timestamp_fields(endpoint: Endpoint) -> tuple[str, ...]:
    """Fields the API sometimes sends as "" where it means "no date"; they are cleaned to null."""
    return tuple(n for n, p in endpoint.item_schema.get("properties", {}).items() if is_timestamp(n, p))
