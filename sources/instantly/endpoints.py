"""The endpoint table: one entry per Instantly list endpoint drives one dlt resource of the same name.

Adding an endpoint is adding an entry here. Page sizes and required scopes come from the vendored spec
unless an entry overrides them.
"""

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import settings, spec
from .payloads import event_content_hash


class Kind(enum.Enum):
    LIST = "list"  # a collection: paginated with next_starting_after, or one unpaginated array
    OBJECT = "object"  # one object (the current workspace), or one per parent item with a fan-out
    REPORT = "report"  # an unpaginated answer of figures (analytics, billing): rows, or one object of totals


class Pagination(enum.Enum):
    QUERY = "query"  # starting_after/limit in the query string
    BODY = "body"  # starting_after/limit in the JSON body (POST /leads/list)
    NONE = "none"  # the whole collection in one answer (GET /crm-actions/phone-numbers)


class Strategy(enum.Enum):
    """How a rerun avoids re-writing what the warehouse already holds."""

    MERGE_ALL = "merge_all"  # fetch everything, merge every item on its key
    TIME_WINDOW = "time_window"  # ask the server only for items since the high-water mark, dedupe the overlap
    CHANGED_ROWS = "changed_rows"  # walk everything, write only items whose update time moved
    DAILY = "daily"  # per parent: backfill once from its creation, then re-fetch a trailing window of days
    SNAPSHOT = "snapshot"  # the answer's rows per run, stamped with the run's start time


class RateClass(enum.Enum):
    WORKSPACE = "workspace"  # 100/s and 6,000/min for the whole workspace
    EMAILS = "emails"  # additionally 20/min (GET /api/v2/emails)


class TimeFormat(enum.Enum):
    DATETIME = "datetime"  # 2025-09-13T12:09:51.583Z
    DATE = "date"  # 2025-09-13


@dataclass(frozen=True)
class FanOut:
    """One request (or walk) per item of a parent resource, as a dlt transformer fed by that parent."""

    parent: str
    parent_field: str = "id"
    # the query parameter that takes the parent's value; None: the `{placeholder}` in the path
    param: str | None = None
    # the column added to every row with the parent's value, where the API's rows do not carry it
    column: str | None = None
    # parent values per request (a list parameter such as `emails`); 1 means one request per parent
    batch: int = 1
    # the rows are about one parent item and follow it when it is deleted (`Endpoint.owner`); False for a
    # value parents share (the accounts' tracking domain)
    about_parent: bool = True


@dataclass(frozen=True)
class Owner:
    """The item of another resource each row is about: rows of a report per campaign follow their campaign
    when it is deleted (`deletions`)."""

    parent: str
    column: str  # the row's column holding the parent's key


@dataclass(frozen=True)
class DateRange:
    """Analytics date range parameters (`YYYY-MM-DD`) and the longest range one request may span."""

    start_param: str = "start_date"
    end_param: str = "end_date"
    max_days: int | None = None


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    method: str = "GET"
    kind: Kind = Kind.LIST
    primary_key: str | tuple[str, ...] = "id"
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
    fan_out: FanOut | None = None
    dates: DateRange | None = None
    # Items make no child tables: pages go to dlt as Arrow tables, skipping its row-by-row normalizer
    # (`arrow_rows`; a batch holding a child table still goes as dicts).
    arrow: bool = False
    # Fields never stored (key material).
    drop_fields: tuple[str, ...] = ()
    # Key fields the API may send as null ("could not determine"), stored as this value instead.
    null_key_value: str | None = None
    # Reports whose rows are about a parent item the fan-out does not name in a column (`owner`).
    belongs_to: Owner | None = None
    # Columns computed from each item as received: column name -> function of the item.
    derived: Mapping[str, Callable[[dict[str, Any]], Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # The answer's field holding the rows, where the kind does not have them there (a list page's `items`,
    # a report's or object's whole answer); a LIST without pagination and without it answers one array.
    rows_field: str | None = None
    # The paid add-on the endpoint belongs to (a human name): a 402 from it means the workspace's plan lacks
    # the add-on, which skips the resource and its fan-outs instead of stopping the run.
    add_on: str | None = None

    @property
    def owner(self) -> Owner | None:
        """The parent item the rows of a report or object are about, if any: they follow it when it is
        deleted."""
        if self.kind is Kind.LIST:
            return None
        fan_out = self.fan_out
        if self.belongs_to is None and fan_out and fan_out.column and fan_out.about_parent:
            return Owner(fan_out.parent, fan_out.column)
        return self.belongs_to

    @property
    def rows_in(self) -> str | None:
        """The answer's field holding the rows; None: the answer is the rows (an array, or one object)."""
        if self.rows_field or self.kind is not Kind.LIST or self.pagination is Pagination.NONE:
            return self.rows_field
        return "items"

    @property
    def key_fields(self) -> tuple[str, ...]:
        return (self.primary_key,) if isinstance(self.primary_key, str) else self.primary_key

    @property
    def page_size(self) -> int:
        """The biggest page the endpoint allows: the API defaults to 10, so we always send a limit."""
        return self.page_size_override or spec.limit_bounds(self.path, self.method)[1]

    @property
    def scopes(self) -> tuple[str, ...]:
        """The read scopes the spec lists for this endpoint, for error messages."""
        description = spec.operation(self.path, self.method).get("description", "")
        return tuple(re.findall(r"`([a-z_-]+:[a-z]+)`", description))

    @property
    def item_schema(self) -> dict[str, Any]:
        answer = spec.resolve(spec.response_schema(self.path, self.method))
        if self.rows_in or answer.get("type") == "array":
            return spec.list_item_schema(self.path, self.method, self.rows_in)
        return answer


_ASC = MappingProxyType({"sort_order": "asc"})
_PER_CAMPAIGN = FanOut(parent="campaigns", param="campaign_id", column="campaign_id")
_PER_TEST = FanOut(parent="inbox_placement_tests", param="test_id")
# paid add-ons (the plan details list them as subscriptions of their own)
AI_AGENTS = "AI agents"
DFY_EMAIL_ACCOUNTS = "done-for-you email accounts"
INBOX_PLACEMENT = "inbox placement"
CRM = "CRM"

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
        arrow=True,
    ),
    Endpoint(
        name="emails",
        path="/api/v2/emails",
        strategy=Strategy.TIME_WINDOW,
        cursor_field="timestamp_created",
        window_param="min_timestamp_created",
        params=_ASC,
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
    Endpoint(name="lead_lists", path="/api/v2/lead-lists"),
    Endpoint(name="lead_labels", path="/api/v2/lead-labels"),
    Endpoint(name="custom_tags", path="/api/v2/custom-tags"),
    Endpoint(name="custom_tag_mappings", path="/api/v2/custom-tag-mappings"),
    Endpoint(name="block_list_entries", path="/api/v2/block-lists-entries"),
    Endpoint(name="subsequences", path="/api/v2/subsequences"),
    # `headers` holds the customer's credentials for their webhook target (Authorization, X-Api-Key)
    Endpoint(name="webhooks", path="/api/v2/webhooks", drop_fields=("headers",)),
    Endpoint(
        name="webhook_events",
        path="/api/v2/webhook-events",
        strategy=Strategy.TIME_WINDOW,
        cursor_field="timestamp_created",
        window_param="from",
        window_format=TimeFormat.DATE,
        # the hash pushed events are merged on (`webhook_events_pushed`): one event that came both ways
        derived=MappingProxyType({settings.CONTENT_HASH_COLUMN: event_content_hash}),
    ),
    Endpoint(name="workspace", path="/api/v2/workspaces/current", kind=Kind.OBJECT),
    Endpoint(name="workspace_members", path="/api/v2/workspace-members"),
    Endpoint(name="workspace_group_members", path="/api/v2/workspace-group-members"),
    Endpoint(name="api_keys", path="/api/v2/api-keys", drop_fields=("key",)),
    Endpoint(name="background_jobs", path="/api/v2/background-jobs"),
    Endpoint(name="inbox_placement_tests", path="/api/v2/inbox-placement-tests", add_on=INBOX_PLACEMENT),
    Endpoint(
        name="inbox_placement_analytics",
        path="/api/v2/inbox-placement-analytics",
        fan_out=_PER_TEST,
        add_on=INBOX_PLACEMENT,
    ),
    Endpoint(
        name="inbox_placement_reports",
        path="/api/v2/inbox-placement-reports",
        fan_out=_PER_TEST,
        add_on=INBOX_PLACEMENT,
    ),
    Endpoint(
        name="account_campaign_mappings",
        path="/api/v2/account-campaign-mappings/{email}",
        primary_key=("account_email", "campaign_id"),
        fan_out=FanOut(parent="accounts", parent_field="email", column="account_email"),
        page_size_override=100,  # the spec gives this `limit` no bounds; 100 is every other list's maximum
    ),
    Endpoint(
        name="campaign_analytics",
        path="/api/v2/campaigns/analytics",
        kind=Kind.REPORT,
        primary_key="campaign_id",
        dates=DateRange(),
        belongs_to=Owner("campaigns", "campaign_id"),
    ),
    Endpoint(
        name="campaign_analytics_daily",
        path="/api/v2/campaigns/analytics/daily",
        kind=Kind.REPORT,
        strategy=Strategy.DAILY,
        primary_key=("campaign_id", "date"),
        fan_out=_PER_CAMPAIGN,
        dates=DateRange(),
    ),
    Endpoint(
        name="campaign_analytics_steps",
        path="/api/v2/campaigns/analytics/steps",
        kind=Kind.REPORT,
        primary_key=("campaign_id", "step", "variant"),
        fan_out=_PER_CAMPAIGN,
        dates=DateRange(),
        null_key_value="unknown",
    ),
    Endpoint(
        name="campaign_analytics_overview",
        path="/api/v2/campaigns/analytics/overview",
        kind=Kind.REPORT,
        strategy=Strategy.SNAPSHOT,
        primary_key="synced_at",
        dates=DateRange(),
    ),
    Endpoint(
        name="account_analytics_daily",
        path="/api/v2/accounts/analytics/daily",
        kind=Kind.REPORT,
        strategy=Strategy.DAILY,
        primary_key=("email_account", "date"),
        fan_out=FanOut(parent="accounts", parent_field="email", param="emails", batch=200),
        dates=DateRange(max_days=31),
        belongs_to=Owner("accounts", "email_account"),
    ),
    Endpoint(
        name="subsequence_analytics",
        path="/api/v2/subsequences/analytics",
        kind=Kind.REPORT,
        primary_key=("campaign_id", "subsequence_id"),
        fan_out=_PER_CAMPAIGN,
    ),
    Endpoint(name="ai_agents", path="/api/v2/ai-agents", add_on=AI_AGENTS),
    Endpoint(
        name="ai_agent_activities",
        path="/api/v2/ai-agents/{id}/activities",
        fan_out=FanOut(parent="ai_agents"),  # the activities carry their agent as `ai_sdr_id`
        add_on=AI_AGENTS,
    ),
    Endpoint(
        name="campaign_sending_status",
        path="/api/v2/campaigns/{id}/sending-status",
        kind=Kind.OBJECT,
        primary_key="campaign_id",
        fan_out=FanOut(parent="campaigns", column="campaign_id"),
    ),
    Endpoint(
        name="subsequence_analytics_steps",
        path="/api/v2/subsequences/{id}/analytics/steps",
        kind=Kind.REPORT,
        primary_key=("subsequence_id", "step", "variant"),
        fan_out=FanOut(parent="subsequences", column="subsequence_id"),
        dates=DateRange(),
        null_key_value="unknown",
    ),
    Endpoint(
        name="webhook_event_summary_daily",
        path="/api/v2/webhook-events/summary-by-date",
        kind=Kind.REPORT,
        primary_key="date",
        dates=DateRange(start_param="from", end_param="to"),
        rows_field="items",
    ),
    Endpoint(
        name="lead_list_verification_stats",
        path="/api/v2/lead-lists/{id}/verification-stats",
        kind=Kind.OBJECT,
        primary_key="lead_list_id",
        fan_out=FanOut(parent="lead_lists", column="lead_list_id"),
    ),
    Endpoint(
        name="dfy_email_account_orders",
        path="/api/v2/dfy-email-account-orders",
        primary_key="domain",  # the items have no id: an order buys one domain
        add_on=DFY_EMAIL_ACCOUNTS,
    ),
    # mailbox passwords come only with `with_passwords=true`, which we never send; dropped should they come
    Endpoint(
        name="dfy_email_account_order_accounts",
        path="/api/v2/dfy-email-account-orders/accounts",
        params=MappingProxyType({"with_passwords": "false"}),
        drop_fields=("password",),
        add_on=DFY_EMAIL_ACCOUNTS,
    ),
    # the plan as it is now (one row): what limits the workspace, and when it renews
    Endpoint(
        name="workspace_plan",
        path="/api/v2/workspace-billing/plan-details",
        kind=Kind.OBJECT,
        primary_key="organization_id",
    ),
    # what the workspace pays for, per product, as of each run: the latest run's rows are the current
    # subscriptions (one dropped from the answer is not in them), earlier runs the history of the spend
    Endpoint(
        name="workspace_subscription",
        path="/api/v2/workspace-billing/subscription-details",
        kind=Kind.REPORT,
        strategy=Strategy.SNAPSHOT,
        primary_key=("synced_at", "product_id"),
        rows_field="subscriptions",
    ),
    Endpoint(
        name="crm_phone_numbers",
        path="/api/v2/crm-actions/phone-numbers",
        pagination=Pagination.NONE,
        add_on=CRM,
    ),
    Endpoint(
        name="custom_tracking_domain_status",
        path="/api/v2/accounts/ctd/status",
        kind=Kind.OBJECT,
        primary_key="host",
        fan_out=FanOut(
            parent="accounts",
            parent_field="tracking_domain_name",
            param="host",
            column="host",
            about_parent=False,
        ),
    ),
    Endpoint(
        name="unread_email_count",
        path="/api/v2/emails/unread/count",
        kind=Kind.OBJECT,
        strategy=Strategy.SNAPSHOT,
        primary_key="synced_at",
    ),
)

ENDPOINTS_BY_NAME: Mapping[str, Endpoint] = MappingProxyType({e.name: e for e in ENDPOINTS})
# each fan-out resource and the resource whose items it is fetched for
FAN_OUT_PARENTS: Mapping[str, str] = MappingProxyType(
    {e.name: e.fan_out.parent for e in ENDPOINTS if e.fan_out}
)


# Resources that are not endpoints: derived from the spec itself.
DERIVED_RESOURCES = ("enum_labels",)
RESOURCE_NAMES = (*ENDPOINTS_BY_NAME, *DERIVED_RESOURCES)


def check_resource_names(names: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """The resources named, in table order; all of them for None. Unknown names are an error."""
    if not names:
        return RESOURCE_NAMES
    unknown = sorted(set(names) - set(RESOURCE_NAMES))
    if unknown:
        raise ValueError(f"unknown resource(s): {', '.join(unknown)}; known: {', '.join(RESOURCE_NAMES)}")
    return tuple(name for name in RESOURCE_NAMES if name in set(names))
