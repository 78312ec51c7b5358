"""Batches of flat items as Arrow tables, typed exactly as dlt's relational normalizer types the same dicts.

dlt normalizes dict items row by row, which costs most of a large sync; Arrow tables skip that step. Users
must not be able to tell which path loaded their data, so a table built here carries what the normalizer
would write: nested objects flattened into `parent__child` columns (dlt's naming and nesting rules), declared
or stored column types first and dlt's own inference (`JsonLItemsNormalizer._infer_column`) for new columns,
values as dlt would coerce them, and `_dlt_load_id` and `_dlt_id`.

A value whose type disagrees with its column is fitted as the normalizer fits it, by the normalizer's own
code (`JsonLItemsNormalizer._coerce_non_null_value`): coerced (`"5"` into a bigint column, a timestamp in
another format parsed), or moved into a variant column (`email_open_count__v_text`), which appears in the
table where the normalizer would add it. A key holding an object in some rows and a value in others is
flattened row by row, as dlt does.

A batch holding what only the normalizer reproduces (a list that would become a child table, text that
looks like dlt's typed-value markers, two keys that normalize to one name) goes as dicts, with the columns
of its own table that the normalizer will make declared as hints, typed as the normalizer will type them:
so the Arrow batches after it type those columns the same way, and only that batch leaves the fast path.
Should even that not be possible, the rest of the extract goes as dicts.
"""

import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common import logger as dlt_logger
from dlt.common.configuration.container import Container
from dlt.common.destination.capabilities import (
    DestinationCapabilitiesContext,
    adjust_column_schema_to_capabilities,
)
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
_PUA_TEXT, _PUA_JSON = f"^{_PUA}", f'"{_PUA}'
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
    """Builds a resource's batches as Arrow tables during one extract, or as dicts where they must go so."""

    def __init__(self, table_name: str, declared: dict[str, TColumnSchema]):
        self.table_name = table_name
        self.declared = declared
        self.enabled = True
        self._typed: dict[str, TColumnSchema] = {}  # columns earlier batches of this extract typed

    def build(self, items: list[dict[str, Any]]) -> tuple[Any, dict[str, TColumnSchema]]:
        """The batch as one Arrow table, or as the dicts themselves, and the column hints to yield it with:
        for a table, dlt's own columns and the variants; for dicts, the columns the normalizer will make."""
        if not self.enabled:
            return items, {}
        _quiet_declared_json(self.table_name)
        schema = dlt.current.source_schema()
        batch = _Batch(self, schema)
        try:
            table, hints = batch.build(items)
            self._typed.update(batch.typed)
            return table, hints
        except Unrepresentable as exc:
            logger.info("%s: a batch goes as dicts: %s", self.table_name, exc)
        try:
            hints = _Batch(self, schema, without_child_tables=True).columns_made(items)
        except Unrepresentable as exc:
            logger.info("%s: the rest of this extract goes as dicts: %s", self.table_name, exc)
            self.enabled = False
            return items, {}
        self._typed.update(hints)
        return items, hints


class _Batch:
    def __init__(self, tables: ArrowTables, schema: Schema, without_child_tables: bool = False):
        self.schema = schema
        self.without_child_tables = without_child_tables
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
        # per row index, the columns whose value went to a variant column, and that column's name
        self.moved: dict[int, dict[str, str]] = {}
        self.variants: set[str] = set()  # variant columns this batch made
        self._normalizer: JsonLItemsNormalizer | None = None
        self.load_id = dlt.current.load_package_state()["load_id"]
        self.c_load_id = self.naming.normalize_identifier(C_DLT_LOAD_ID)
        self.c_id = self.naming.normalize_identifier(C_DLT_ID)

    def build(self, items: list[dict[str, Any]]) -> tuple[pa.Table, dict[str, TColumnSchema]]:
        table = self.table(items)
        # what dlt's normalizer adds to its own columns beyond type and nullability (unique, row_key), and
        # to variant columns (the `variant` flag)
        own = {name: self.known.get(name) or self.typed[name] for name in (self.c_load_id, self.c_id)}
        own.update((name, self.typed[name]) for name in self.variants if name in self.typed)
        return table, own

    def columns_made(self, items: list[dict[str, Any]]) -> dict[str, TColumnSchema]:
        """The columns of this table the normalizer will add for these items, in its order, typed as it
        will type them (their child tables aside)."""
        table = self.table(items)
        caps = self.normalizer.config.destination_capabilities
        return {
            name: adjust_column_schema_to_capabilities(dict(self.typed[name]), caps)
            for name in table.schema.names
            if name in self.typed
        }

    def table(self, items: list[dict[str, Any]]) -> pa.Table:
        level = normalize_helpers.get_table_nesting_level(
            self.schema, self.name, self.schema.data_item_normalizer.max_nesting
        )
        values = self.flatten(items, level, ())
        values[self.c_load_id] = [self.load_id] * len(items)
        values[self.c_id] = generate_dlt_ids(len(items))
        self.kinds[self.c_load_id] = self.kinds[self.c_id] = {str}
        columns: dict[str, TColumnSchema] = {}
        for name in list(values):
            column = self.column(name, values[name], self.kinds[name])
            if column is not None:
                columns[name] = column
                values[name] = self.fit(column, values, len(items))
        new = {n for n in values if n not in self.known and self.kinds[n]}
        arrays, fields = [], []
        for name in [*self.known, *_first_appearance(self.row_names(items, level), new)]:
            kinds = self.kinds.get(name, set())
            column = columns.get(name) or self.typed.get(name) or self.column(name, values.get(name), kinds)
            if column is None:  # known without a type, and no value to infer one from: dlt skips it too
                continue
            array = _to_arrow(column, values.get(name), kinds, len(items))
            arrays.append(array)
            fields.append(pa.field(name, array.type, nullable=column.get("nullable", True)))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def fit(self, column: TColumnSchema, values: dict[str, list[Any]], size: int) -> list[Any]:
        """The column's values as the normalizer stores them: a value of another type than the column's is
        coerced, or moved to a variant column (added to `values`), by the normalizer's own code."""
        name, data_type = column["name"], column["data_type"]
        column_values = values[name]
        native, kinds = _NATIVE.get(data_type, set()), self.kinds[name]
        odd = []
        if not kinds <= native:  # the types of the values were read once, by `flatten`
            odd = [i for i, v in enumerate(column_values) if v is not None and type(v) not in native]
        if data_type == "timestamp" and str in kinds:
            text = (
                pa.array(column_values, pa.string())
                if kinds == {str}
                else pa.array([v if type(v) is str else None for v in column_values], pa.string())
            )
            iso = pc.fill_null(pc.match_substring_regex(text, _ISO_TIMESTAMP), True)
            odd += pc.indices_nonzero(pc.invert(iso)).to_pylist()
        if not odd:
            return column_values
        fitted = list(column_values)
        for index in sorted(odd):
            try:
                target, made, value = self.normalizer._coerce_non_null_value(
                    self.columns_view, self.name, name, column_values[index]
                )
            except Exception as exc:  # a value no variant takes: dlt's normalizer would fail the load
                raise Unrepresentable(f"{name}: {exc}") from None
            if made is not None:
                self.typed[target] = made
                if target != name:
                    self.variants.add(target)
            if data_type == "timestamp" and target == name:
                value = value.isoformat()  # the instant dlt parsed, as text the Arrow cast reads
            if target == name:
                fitted[index] = value
                continue
            fitted[index] = None
            values.setdefault(target, [None] * size)[index] = value
            self.kinds.setdefault(target, set()).add(type(value))
            self.moved.setdefault(index, {})[name] = target
        self.kinds[name] = set(map(type, fitted)) - {_NONE}
        return fitted

    @property
    def columns_view(self) -> dict[str, TColumnSchema]:
        """Every column this batch knows of, as the normalizer would see the table's columns."""
        return {**self.known, **self.typed}

    @property
    def normalizer(self) -> JsonLItemsNormalizer:
        """dlt's normalizer, for its inference and coercion rules, with the destination's capabilities."""
        if self._normalizer is None:
            caps = Container().get(DestinationCapabilitiesContext) or _CAPS
            config = SimpleNamespace(destination_capabilities=caps)
            self._normalizer = JsonLItemsNormalizer(None, None, None, self.schema, self.load_id, config)
        return self._normalizer

    def column(self, name: str, values: list[Any] | None, kinds: set[type]) -> TColumnSchema | None:
        known = self.known.get(name)
        if known and "data_type" in known:
            return known
        if not kinds:
            return None
        first = next(v for v in values if v is not None)
        self.typed[name] = self.normalizer._infer_column(name, first, table_name=self.name)
        return self.typed[name]

    def row_names(self, rows: list[dict[str, Any]], level: int) -> Iterator[list[str]]:
        """Per row, its non-null columns in the order dlt's normalizer adds them to the table (a value moved
        to a variant column under the variant's name)."""
        for index, row in enumerate(rows):
            moved = self.moved.get(index, {})
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
                        names.append(moved.get(name, name))
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
                if not self.without_child_tables and any(v for v in values if type(v) is list):
                    raise Unrepresentable(f"{self.name}.{name}: a list that makes a child table")
                if dict in kinds:  # the rows holding an object flatten it, the others keep their value
                    nested.append(([v if type(v) is dict else None for v in values], (*path, ident)))
                values = [None if type(v) in (dict, list) else v for v in values]  # empty lists: no column
                kinds -= {dict, list}
                if not kinds:
                    continue
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
            text = pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
            if pc.any(pc.match_substring_regex(text, _PUA_JSON)).as_py():
                raise Unrepresentable(f"{column['name']}: typed-value markers")
            return text
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
