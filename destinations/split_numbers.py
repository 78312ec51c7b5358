"""Fold number columns that syncs before spec numbers were declared double left split: in the warehouse, in
its staging dataset, and in dlt's schema.

dlt typed such a column by its first value: `3` made it BIGINT, and every later `2.5` went to a variant
column `<name>__v_double` that sums and models miss. Spec numbers are now declared double, but dlt never
changes an existing column's type: it would write doubles into the BIGINT column, where DuckDB and Postgres
both round them without a word (`2.5` lands as 3). So before a sync extracts anything, each spec-number
column the destination holds as an integer is altered to double, a variant's values are copied into it and
the variant dropped (one transaction per table), also in the staging dataset, whose tables dlt's merges reuse
as they are. Then dlt's schema says the same: the columns double, the variants gone.

What to fold is read from the destination's columns every time, so a rerun after a crash, or a runner that
restored the old schema from the destination, ends the same way; a warehouse already folded costs a query.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlt.common.normalizers.naming import NamingConvention
from dlt.common.schema import Schema
from dlt.common.schema.utils import get_root_table
from dlt.common.typing import VARIANT_FIELD_FORMAT
from dlt.pipeline.pipeline import Pipeline

from sources.instantly.errors import InstantlyError

from . import models

# What DuckDB and Postgres call the integer types dlt creates (`information_schema.columns.data_type`).
INTEGER_TYPES = frozenset({"bigint", "integer", "smallint"})
DOUBLE_TYPE = "double precision"  # the same name in both


@dataclass(frozen=True)
class Split:
    """A spec-number column held as an integer, or with a variant column beside it (or both)."""

    table: str
    column: str
    integer: bool
    variant: str | None


def fold_split_numbers(pipeline: Pipeline, numbers: Mapping[str, set[str]]) -> list[Split]:
    """Fold the split columns among `numbers` (per table, the columns that hold spec numbers, named as in the
    pipeline's schema, which must exist); what was split in the dataset, for the log."""
    naming = pipeline.default_schema.naming
    with pipeline.sql_client() as client:
        in_dataset = _splits(client, numbers, naming)
        with client.with_staging_dataset():
            in_staging = _splits(client, numbers, naming)
    if in_dataset:  # Postgres refuses to alter a column a view reads; the models' refresh makes them again
        models.drop_views(pipeline)
    if in_dataset or in_staging:
        with pipeline.sql_client() as client:
            _fold(client, in_dataset, pipeline.default_schema)
            with client.with_staging_dataset():
                _fold(client, in_staging, pipeline.default_schema)
    _declare_double(pipeline, numbers)
    return in_dataset


def _variant(naming: NamingConvention, column: str) -> str:
    """The name dlt's normalizer gives the column's variant for floats (`JsonLItemsNormalizer`)."""
    return naming.shorten_fragments(column, VARIANT_FIELD_FORMAT % "double")


def _splits(client: Any, numbers: Mapping[str, set[str]], naming: NamingConvention) -> list[Split]:
    if not client.has_dataset():
        return []
    rows = client.execute_sql(
        "select table_name, column_name, data_type from information_schema.columns where table_schema = %s",
        client.dataset_name,
    )
    types: dict[tuple[str, str], str] = {(table, column): kind.lower() for table, column, kind in rows or []}
    splits = []
    for table, columns in sorted(numbers.items()):
        for column in sorted(c for c in columns if (table, c) in types):
            integer = types[(table, column)] in INTEGER_TYPES
            variant = _variant(naming, column)
            if integer or (table, variant) in types:
                splits.append(Split(table, column, integer, variant if (table, variant) in types else None))
    return splits


def _fold(client: Any, splits: list[Split], schema: Schema) -> None:
    for table in dict.fromkeys(split.table for split in splits):
        qualified = client.make_qualified_table_name(table)
        in_table = [split for split in splits if split.table == table]
        try:
            with client.begin_transaction():
                for split in in_table:
                    _fold_column(client, qualified, split)
        except Exception as exc:  # e.g. a view of the user's reads the column (Postgres)
            resource = get_root_table(schema.tables, table)["name"] if table in schema.tables else table
            raise InstantlyError(
                f"cannot make {', '.join(split.column for split in in_table)} of {table} double: "
                f"{' '.join(str(exc).split())}. Nothing was synced; drop what depends on them and run again, "
                f"or sync the table afresh with `instantly-sync reset {resource}`"
            ) from exc


def _fold_column(client: Any, qualified: str, split: Split) -> None:
    column = client.escape_column_name(split.column)
    if split.integer:
        client.execute_sql(f"alter table {qualified} alter column {column} type {DOUBLE_TYPE}")
    if split.variant:
        variant = client.escape_column_name(split.variant)
        client.execute_sql(f"update {qualified} set {column} = {variant} where {variant} is not null")
        client.execute_sql(f"alter table {qualified} drop column {variant}")


def _declare_double(pipeline: Pipeline, numbers: Mapping[str, set[str]]) -> None:
    """dlt's schema as the destination now is: spec-number columns double, their float variants gone."""
    schema = pipeline.default_schema
    for table_name, columns in numbers.items():
        stored = schema.tables.get(table_name, {}).get("columns", {})
        for column in columns:
            if stored.get(_variant(schema.naming, column), {}).get("variant"):
                del stored[_variant(schema.naming, column)]
            if stored.get(column, {}).get("data_type", "double") != "double":
                stored[column]["data_type"] = "double"
    if schema.is_modified:
        for table_name in numbers.keys() & schema.tables.keys():
            schema.data_item_normalizer.extend_table(table_name)  # clears its caches of the old columns
        pipeline.schemas.save_schema(schema)
