"""The endpoint table: one entry per Instantly list endpoint drives one dlt resource of the same name.

Adding an endpoint is adding an entry here. Page sizes and required scopes come from the vendored spec
unless an entry overrides them.
"""

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import spec


class Pagination(enum.Enum):
    QUERY = "query"  # starting_after/limit in the query string
    BODY = "body"  # starting_after/limit in the JSON body (POST /leads/list)


class Strategy(enum.Enum):
    """How a rerun avoids re-writing what the warehouse already holds."""

    MERGE_ALL = "merge_all"  # walk everything, merge every item on its key
    TIME_WINDOW = "time_window"  # ask the server only for items since the high-water mark, dedupe the overlap
    CHANGED_ROWS = "changed_rows"  # walk everything, write only items whose update time moved


class RateClass(enum.Enum):
    WORKSPACE = "workspace"  # 100/s and 6,000/min for the whole workspace
    EMAILS = "emails"  # additionally 20/min (GET /api/v2/emails)


class TimeFormat(enum.Enum):
    DATETIME = "datetime"  # 2025-09-13T12:09:51.583Z
    DATE = "date"  # 2025-09-13


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    method: str = "GET"
    primary_key: str = "id"
    pagination: Pagination = Pagination.QUERY
    strategy: Strategy = Strategy.MERGE_ALL
    # TIME_WINDOW: the item's creation time; CHANGED_ROWS: the item's update time.
    cursor_field: str | None = None
    # TIME_WINDOW: the request parameter that bounds the window from below, and its format.
    window_param: str | None = None
    window_format: TimeFormat = TimeFormat.DATETIME
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    rate_class: RateClass = RateClass.WORKSPACE
    page_size_override: int | None = None
    # Free-form objects kept as one JSON column and mirrored into a `<table>__<field>_variables` child table
    # of (name, value) rows, so user-defined keys stay queryable without one column per key.
    variables_fields: tuple[str, ...] = ()

    @property
    def page_size(self) -> int:
        """The biggest page the endpoint allows: the API defaults to 10, so we always send a limit."""
        return self.page_size_override or spec.limit_bounds(self.path, self.method)[1]

    @property
    def scopes(self) -> tuple[str, ...]:
        """The read scopes the spec lists for this endpoint, for error messages."""
        description = spec.operation(self.path, self.method).get("description", "")
        return tuple(re.findall(r"`([a-z_]+:[a-z]+)`", description))

    @property
    def item_schema(self) -> dict[str, Any]:
        return spec.list_item_schema(self.path, self.method)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(name="campaigns", path="/api/v2/campaigns"),
    Endpoint(
        name="accounts",
        path="/api/v2/accounts",
        primary_key="email",
        params=MappingProxyType({"include_tags": "true"}),  # without it the API leaves tags out
    ),
    Endpoint(
        name="leads",
        path="/api/v2/leads/list",
        method="POST",
        pagination=Pagination.BODY,
        strategy=Strategy.CHANGED_ROWS,
        cursor_field="timestamp_updated",
        variables_fields=("payload",),
    ),
    Endpoint(
        name="emails",
        path="/api/v2/emails",
        strategy=Strategy.TIME_WINDOW,
        cursor_field="timestamp_created",
        window_param="min_timestamp_created",
        params=MappingProxyType({"sort_order": "asc"}),
        rate_class=RateClass.EMAILS,
    ),
    Endpoint(
        name="audit_logs",
        path="/api/v2/audit-logs",
        strategy=Strategy.TIME_WINDOW,
        cursor_field="timestamp",
        window_param="start_date",
        window_format=TimeFormat.DATE,
    ),
)

ENDPOINTS_BY_NAME: Mapping[str, Endpoint] = MappingProxyType({e.name: e for e in ENDPOINTS})


def select(names: list[str] | tuple[str, ...] | None) -> tuple[Endpoint, ...]:
    """The endpoints named, in table order; all of them for None. Unknown names are an error."""
    if not names:
        return ENDPOINTS
    unknown = sorted(set(names) - set(ENDPOINTS_BY_NAME))
    if unknown:
        raise ValueError(f"unknown resource(s): {', '.join(unknown)}; known: {', '.join(ENDPOINTS_BY_NAME)}")
    return tuple(e for e in ENDPOINTS if e.name in set(names))
