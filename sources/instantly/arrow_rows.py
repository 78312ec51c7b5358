"""Batches of flat items as Arrow tables, typed exactly as dlt's relational normalizer types the same dicts.

dlt normalizes dict items row by row, which costs most of a large sync; Arrow tables skip that step. Users
must not be able to tell which path loaded their data, so a table built here carries what the normalizer
would write: nested objects flattened into `parent__child` columns (dlt's naming and nesting rules), declared
or stored column types first and dlt's own inference (`JsonLItemsNormalizer._infer_column`) for new columns,
values as dlt would coerce them, and `_dlt_load_id` and `_dlt_id`.

A batch holding what only the normalizer reproduces (a list that would become a child table, a value whose
type disagrees with its column, which dlt coerces or puts into a variant column, a timestamp in a format
other than strict ISO 8601) raises `Unrepresentable` and goes the dict path. The rest of the extract then
stays on the dict path: the normalizer types that batch's new columns only later, so an Arrow batch after it
could type the same columns differently.
"""

import logging
import re
from collections.abc import Iterator
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common import logger as dlt_logger
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.common.json import PUA_CHARACTER_MAX, PUA_START, json
from dlt.common.libs.pyarrow import get_py_arrow_datatype
from dlt.common.normalizers.json import helpers as normalize_helpers
from dlt.common.normalizers.json.relational import DataItemNormalizer as Relational
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.schema import Schema
from dlt.common.schema.typing import C_DLT_ID, C_DLT_LOAD_ID, TColumnSchema
from dlt.normalize.items_normalizers.jsonl import JsonLItemsNormalizer

logger = logging.getLogger(__name__)

_NONE = type(None)
_EMPTY_KEY = Relational.EMPTY_KEY_IDENTIFIER
# Timestamps dlt parses and Arrow's cast parses to the same instant; anything else goes the dict path.
_ISO_TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$"
# Strings dlt's normalizer would decode as typed values (its private-use-area markers).
_PUA = f"[{chr(PUA_START)}-{chr(PUA_START + PUA_CHARACTER_MAX)}]"
_PUA_TEXT, _PUA_JSON = f"^{_PUA}", re.compile(f'"{_PUA}')
_CAPS = DestinationCapabilitiesContext.generic_capabilities()
# Python types a column takes as they are; anything else dlt would coerce or put into a variant column
# (ints in a double column are the same float either way).
_NATIVE: dict[str, set[type]] = {
    "text": {str},
    "bigint": {int},
    "double": {float, int},
    "bool": {bool},
    "timestamp": {str},
    "json": {dict, list},
}


class Unrepresentable(Exception):
    """The batch holds something only dlt's normalizer reproduces exactly."""


class _DeclaredJsonFilter(logging.Filter):
    """Drops dlt's warning that an Arrow table's hints differ from the resource's. Built here they differ only
    where a column is declared `json` and its Arrow field is text, as JSON text is; the declared type wins,
    as it would for the dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.resources: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(text.startswith(f"In resource: {name}, when merging arrow") for name in self.resources)


_DECLARED_JSON = _DeclaredJsonFilter()


def _quiet_declared_json(resource: str) -> None:
    _DECLARED_JSON.resources.add(resource)
    if dlt_logger.LOGGER is not None and _DECLARED_JSON not in dlt_logger.LOGGER.filters:
        dlt_logger.LOGGER.addFilter(_DECLARED_JSON)


class ArrowTables:
    """Builds a resource's batches as Arrow tables during one extract, or says when they must go as dicts."""

    def __init__(self, table_name: str, declared: dict[str, TColumnSchema]):
        self.table_name = table_name
        self.declared = declared
        self.enabled = True
        self._typed: dict[str, TColumnSchema] = {}  # columns earlier batches of this extract typed

    def build(self, items: list[dict[str, Any]]) -> tuple[pa.Table, dict[str, TColumnSchema]] | None:
        """The batch as one Arrow table and the hints of dlt's own columns to yield it with, or None: send
        the dicts (from now on, every batch)."""
        if not self.enabled:
            return None
        _quiet_declared_json(self.table_name)
        batch = _Batch(self, dlt.current.source_schema())
        try:
            table = batch.build(items)
        except Unrepresentable as exc:
            logger.info("%s: the rest of this extract goes as dicts: %s", self.table_name, exc)
            self.enabled = False
            return None
        self._typed.update(batch.typed)
        return table


class _Batch:
    def __init__(self, tables: ArrowTables, schema: Schema):
        self.schema = schema
        self.naming = schema.naming
        self.name = self.naming.normalize_table_identifier(tables.table_name)
        stored = schema.tables.get(self.name)
        self.known: dict[str, TColumnSchema] = dict(stored["columns"]) if stored else {}
        for name, column in tables.declared.items():  # named as dlt names a resource's declared columns
            self.known.setdefault(self.naming.normalize_path(name), column)
        self.known.update(tables._typed)
        self.typed: dict[str, TColumnSchema] = {}
        # per flattened column, the types of its non-null values (read once, by `flatten`)
        self.kinds: dict[str, set[type]] = {}
        self.load_id = dlt.current.load_package_state()["load_id"]
        self.c_load_id = self.naming.normalize_identifier(C_DLT_LOAD_ID)
        self.c_id = self.naming.normalize_identifier(C_DLT_ID)

    def build(self, items: list[dict[str, Any]]) -> tuple[pa.Table, dict[str, TColumnSchema]]:
        level = normalize_helpers.get_table_nesting_level(
            self.schema, self.name, self.schema.data_item_normalizer.max_nesting
        )
        values = self.flatten(items, level, ())
        values[self.c_load_id] = [self.load_id] * len(items)
        values[self.c_id] = generate_dlt_ids(len(items))
        self.kinds[self.c_load_id] = self.kinds[self.c_id] = {str}
        new = {n for n in values if n not in self.known and self.kinds[n]}
        arrays, fields = [], []
        for name in [*self.known, *_first_appearance(self.row_names(items, level), new)]:
            kinds = self.kinds.get(name, set())
            column = self.column(name, values.get(name), kinds)
            if column is None:  # known without a type, and no value to infer one from: dlt skips it too
                continue
            array = _to_arrow(column, values.get(name), kinds, len(items))
            arrays.append(array)
            fields.append(pa.field(name, array.type, nullable=column.get("nullable", True)))
        table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
        # what dlt's normalizer adds to its own columns beyond type and nullability (unique, row_key)
        own = {name: self.known.get(name) or self.typed[name] for name in (self.c_load_id, self.c_id)}
        return table, own

    def column(self, name: str, values: list[Any] | None, kinds: set[type]) -> TColumnSchema | None:
        known = self.known.get(name)
        if known and "data_type" in known:
            return known
        if not kinds:
            return None
        first = next(v for v in values if v is not None)
        inference = JsonLItemsNormalizer(None, None, None, self.schema, self.load_id, None)
        self.typed[name] = inference._infer_column(name, first, table_name=self.name)
        return self.typed[name]

    def row_names(self, rows: list[dict[str, Any]], level: int) -> Iterator[list[str]]:
        """Per row, its non-null columns in the order dlt's normalizer adds them to the table."""
        for row in rows:
            names: list[str] = []
            stack = [(row, level, ())]
            while stack:
                current, current_level, path = stack.pop()
                for key, value in current.items():
                    ident, name = self.names(key, path)
                    if type(value) in (dict, list) and not self.is_json(name, current_level):
                        if type(value) is dict:
                            stack.append((value, current_level - 1, (*path, ident)))
                    elif value is not None:
                        names.append(name)
            yield [*names, self.c_load_id, self.c_id]

    def names(self, key: str, path: tuple[str, ...]) -> tuple[str, str]:
        """The key's identifier and its column name under `path`, as dlt's `_flatten` makes them."""
        ident = self.naming.normalize_identifier(key) if key and not key.isspace() else _EMPTY_KEY
        return ident, self.naming.shorten_fragments(*path, ident) if path else ident

    def flatten(
        self, rows: list[dict[str, Any] | None], level: int, path: tuple[str, ...]
    ) -> dict[str, list[Any]]:
        """dlt's `_flatten` a column at a time: objects become `parent__child` columns (after the columns of
        their level, the last object first, as dlt's stack does); a list that makes a child table cannot."""
        columns: dict[str, list[Any]] = {}
        nested: list[tuple[list[dict[str, Any] | None], tuple[str, ...]]] = []
        for key, values in _columns_of(rows).items():
            ident, name = self.names(key, path)
            kinds = set(map(type, values)) - {_NONE}
            if kinds & {dict, list} and not self.is_json(name, level):
                if kinds == {dict}:
                    nested.append((values, (*path, ident)))
                    continue
                if kinds == {list} and not any(values):
                    continue  # empty lists: dlt writes no child rows and no column
                raise Unrepresentable(f"{self.name}.{name}: a child table, or objects mixed with values")
            if name in columns:
                raise Unrepresentable(f"{self.name}.{name}: two fields normalize to this name")
            columns[name] = values
            self.kinds[name] = kinds
        for objects, object_path in reversed(nested):
            for name, values in self.flatten(objects, level - 1, object_path).items():
                if name in columns:
                    raise Unrepresentable(f"{self.name}.{name}: two fields normalize to this name")
                columns[name] = values
        return columns

    def is_json(self, name: str, level: int) -> bool:
        """dlt's rule (`is_nested_type`), with the declared hints dlt will have seen by then."""
        if level <= 0:
            return True
        column = self.known.get(name)
        if column is None or "data_type" not in column:
            return self.schema.get_preferred_type(name) == "json"
        return column["data_type"] == "json"


def _to_arrow(column: TColumnSchema, values: list[Any] | None, kinds: set[type], size: int) -> pa.Array:
    """`values` (whose non-null values have the types `kinds`) as the Arrow array dlt's writer would produce
    from the dicts, or Unrepresentable."""
    data_type = column["data_type"]
    arrow_type = get_py_arrow_datatype(column, _CAPS, "UTC")
    if not kinds:
        return pa.nulls(size, arrow_type)
    if not kinds <= _NATIVE.get(data_type, set()):
        kinds_named = sorted(kind.__name__ for kind in kinds)
        raise Unrepresentable(f"{column['name']}: {kinds_named} in a {data_type} column")
    try:
        if data_type == "json":
            text = [None if v is None else json.dumps(v) for v in values]
            if any(_PUA_JSON.search(t) for t in text if t is not None):
                raise Unrepresentable(f"{column['name']}: typed-value markers")
            return pa.array(text, pa.string())
        if data_type == "timestamp":
            text = pa.array(values, pa.string())
            if not pc.all(pc.match_substring_regex(text, _ISO_TIMESTAMP)).as_py():
                raise Unrepresentable(f"{column['name']}: a timestamp in another format")
            return text.cast(arrow_type)
        array = pa.array(values, arrow_type)
    except (pa.ArrowException, OverflowError) as exc:
        raise Unrepresentable(f"{column['name']}: {exc}") from None
    if data_type == "text" and pc.any(pc.match_substring_regex(array, _PUA_TEXT)).as_py():
        raise Unrepresentable(f"{column['name']}: typed-value markers")
    return array


def _columns_of(rows: list[dict[str, Any] | None]) -> dict[str, list[Any]]:
    """Each key's values across `rows` (None where a row lacks the key or is None), keys in order of first
    appearance. Row by row: reading one key at a time across thousands of dicts was 3-5 times slower."""
    count = len(rows)
    columns: dict[str, list[Any]] = {}
    for index, row in enumerate(rows):
        if row:
            for key, value in row.items():
                column = columns.get(key)
                if column is None:
                    column = columns[key] = [None] * count
                column[index] = value
    return columns


def _first_appearance(rows: Iterator[list[str]], wanted: set[str]) -> list[str]:
    """`wanted` in order of first appearance, reading no more rows than it takes."""
    seen: dict[str, None] = {}
    for names in rows:
        if len(seen) == len(wanted):
            break
        seen.update((name, None) for name in names if name in wanted)
    return list(seen)
