"""The one place items are cleaned before dlt sees them, and the rows of the `_rejected` table.

Every resource passes its pages through `prepare`: NUL characters (Postgres rejects them) are removed,
empty-string dates (the API's "no date") become null, free-form variable objects get a name/value mirror,
and items that cannot be loaded (not an object, no primary key) go to `_rejected` instead of being dropped.
"""

from datetime import UTC, datetime
from typing import Any

import orjson

from . import settings
from .columns import timestamp_fields
from .endpoints import Endpoint

REJECTED_TABLE = "_rejected"


def strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(settings.NUL, "")
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value


def variables_rows(values: Any) -> list[dict[str, str | None]]:
    """One (name, value) row per key; non-string values as JSON text, so one column holds any type."""
    if not isinstance(values, dict):
        return []
    return [
        {
            "name": name,
            "value": value if isinstance(value, str) or value is None else orjson.dumps(value).decode(),
        }
        for name, value in values.items()
    ]


class ItemPreparer:
    def __init__(self, endpoint: Endpoint):
        self.endpoint = endpoint
        self._timestamps = timestamp_fields(endpoint)

    def prepare(
        self, items: list[Any], contains_nul: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Split a page into loadable items (cleaned in place) and `_rejected` rows."""
        if contains_nul:
            items = strip_nul(items)
        good: list[dict[str, Any]] = []
        rejected: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, dict):
                rejected.append(self._rejected(item, "the item is not a JSON object"))
                continue
            for name in self.endpoint.drop_fields:
                item.pop(name, None)
            if self.endpoint.null_key_value is not None:
                for name in self.endpoint.key_fields:
                    if item.get(name) is None:
                        item[name] = self.endpoint.null_key_value
            missing = [name for name in self.endpoint.key_fields if item.get(name) in (None, "")]
            if missing:
                rejected.append(
                    self._rejected(item, f"the item has no `{missing[0]}`, part of the table's key")
                )
                continue
            for name in self._timestamps:
                if item.get(name) == "":
                    item[name] = None
            for name in self.endpoint.variables_fields:
                item[f"{name}_variables"] = variables_rows(item.get(name))
            good.append(item)
        return good, rejected

    def _rejected(self, item: Any, reason: str) -> dict[str, Any]:
        return {
            "resource": self.endpoint.name,
            "reason": reason,
            "raw_json": orjson.dumps(item, default=str).decode(),
            "rejected_at": datetime.now(UTC),
        }
