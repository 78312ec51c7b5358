"""`enum_labels`: readable labels for every enum code the spec documents (`x-enumDescriptions`).

One row per (resource, column, value) so SQL and BI can show "Active" instead of `1`. Columns of nested
objects use dlt's flattened names (`warmup__status`), matching the loaded tables.
"""

from collections.abc import Iterator
from typing import Any

from . import spec
from .endpoints import ENDPOINTS


def _enum_columns(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, str]]]:
    for name, prop in schema.get("properties", {}).items():
        prop = spec.resolve(prop)
        column = f"{prefix}{name}"
        if prop.get("x-enumDescriptions"):
            yield column, prop["x-enumDescriptions"]
        if "properties" in prop:
            yield from _enum_columns(prop, f"{column}__")


def enum_label_rows() -> list[dict[str, str]]:
    rows = []
    for endpoint in ENDPOINTS:
        for column, labels in _enum_columns(endpoint.item_schema):
            rows += [
                {"resource": endpoint.name, "column_name": column, "value": str(value), "label": label}
                for value, label in labels.items()
            ]
    return rows
