"""dlt column hints derived from the spec's item schemas.

Declaring types up front means a column exists (and has the right type) even while every item so far had
it null or absent, and ISO strings land as timestamps rather than text.
"""

from typing import Any

from .endpoints import Endpoint

_SCALAR_TYPES = {"string": "text", "boolean": "bool", "integer": "bigint"}


def _base_type(prop: dict[str, Any]) -> str | None:
    declared = prop.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
    types = [t for t in types if t != "null"]
    return types[0] if len(types) == 1 else None


def is_json(name: str, prop: dict[str, Any]) -> bool:
    """Free-form or often-null objects and lists stay one JSON column.

    Objects with declared properties are flattened and lists of them become child tables; but a free-form
    object (custom variables, audit metadata) would add a column per user-defined key, and a nullable one
    is mostly absent, which leaves dlt nothing to infer its columns from.
    """
    declared = prop.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
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


def column_hints(endpoint: Endpoint) -> dict[str, dict[str, Any]]:
    hints: dict[str, dict[str, Any]] = {}
    for name, prop in endpoint.item_schema.get("properties", {}).items():
        if name in endpoint.drop_fields:
            continue  # never stored, so never declared
        base = _base_type(prop)
        if is_json(name, prop):
            data_type = "json"
        elif is_date(prop):
            data_type = "date"
        elif is_timestamp(name, prop):
            data_type = "timestamp"
        elif base == "number" and prop.get("enum"):
            data_type = "bigint"  # enum codes are integers even where the spec says "number"
        elif base == "number" and "null" in prop.get("type", []):
            data_type = "double"  # often null: declare it, or the column waits for a value to appear
        else:
            data_type = _SCALAR_TYPES.get(base or "")
        if data_type:
            hints[name] = {"name": name, "data_type": data_type, "nullable": name != endpoint.primary_key}
    return hints


def resource_columns(endpoint: Endpoint, shared: bool) -> dict[str, dict[str, Any]]:
    """The resource's declared columns: the spec's, and where workspaces share the dataset, theirs."""
    columns = column_hints(endpoint)
    if shared:
        columns["workspace_id"] = {"name": "workspace_id", "data_type": "text", "nullable": False}
        columns["workspace_name"] = {"name": "workspace_name", "data_type": "text", "nullable": True}
    return columns


def timestamp_fields(endpoint: Endpoint) -> tuple[str, ...]:
    """Fields the API sometimes sends as "" where it means "no date"; they are cleaned to null."""
    return tuple(n for n, p in endpoint.item_schema.get("properties", {}).items() if is_timestamp(n, p))
