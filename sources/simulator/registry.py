"""The simulated list endpoints: one declarative ``Entity`` entry each.

Everything the spec already says (item schema, ``limit`` bounds, accepted scopes, parameter types) is
read from the vendored OpenAPI document through ``sources.instantly.spec``; an entry only adds what the
spec cannot express: which field is the key, how items are ordered, what the cursor means, which request
parameters filter what, and optional realism hooks. Adding a list endpoint is one more entry here.

Lists per parent whose items are computed from other entities (``account_campaign_mappings``) are
``Derived`` entries; the endpoints that are not lists (the workspace, analytics) are in ``endpoints.py``.
Entity names are the warehouse's table names.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sources.instantly import spec

from . import filters, realism, realism_more
from .filters import Predicate


@dataclass(frozen=True)
class Filter:
    """A request parameter that narrows a list.

    ``op``: ``eq`` / ``ne`` (item[field] equals the value), ``any_of`` / ``none_of`` (comma-separated
    values), ``contains`` (case-insensitive substring of any of ``fields``), ``in`` / ``not_in`` (value is
    a list), ``truthy`` (bool: the field is set and true/non-zero, or not), ``since`` / ``until``
    (inclusive instants; a bare date means the whole day), ``before`` (exclusive instant), ``custom``
    (``build(value) -> predicate``, or ``build(value, world)`` with ``with_world``).
    Time ops apply to the entity's ``time_field`` and narrow by binary search, not by scanning.
    """

    param: str
    op: Literal[
        "eq",
        "ne",
        "any_of",
        "none_of",
        "contains",
        "in",
        "not_in",
        "truthy",
        "since",
        "until",
        "before",
        "custom",
    ] = "eq"
    field: str | None = None
    fields: tuple[str, ...] = ()
    build: Callable[..., Predicate] | None = None
    with_world: bool = False

    @property
    def target(self) -> str:
        return self.field or self.param


@dataclass(frozen=True)
class Entity:
    """One list endpoint of the API and the items behind it.

    - ``name``, ``path``, ``method``: the endpoint; its item schema, ``limit`` bounds, scopes and
      parameter types come from the spec operation.
    - ``key_field``: the primary key (``email`` for accounts); ``key_of(world, index)`` computes keys
      that are not generated ids; ``id_kind``: generated ids are UUIDv7 (``uuid``) or 24-hex
      ObjectIds (``object_id``, background jobs).
    - ``time_field``: creation instant; items are generated in its order (strictly increasing);
      ``updated_field``: the last-change instant ``World.update`` moves (when the schema has it).
    - ``order``: default serving order by creation; ``sort_param`` names the parameter that flips it.
    - ``cursor``: what ``next_starting_after`` holds: ``id`` (last item's key), ``timestamp_email``
      (accounts), ``timestamp`` (lead lists, lead labels).
    - ``params_in``: ``query`` or ``body`` (leads: limit, cursor and filters in the JSON body).
    - ``filters``: request parameters that narrow the list; ``views``: flags that change how items
      look (``preview_only``); ``hidden_unless``: fields served only with a flag (``include_tags``).
    - ``default_size``, ``span_days``: data volume and time spread; ``legacy_fraction``: share of the
      oldest items with random v4 ids (leads created before 2025-10-15).
    - ``paginated``: False for a list served whole as one array (``GET /crm-actions/phone-numbers``).
    - ``rate_bucket``: an extra per-minute limit (``RateLimits.<bucket>_per_minute``).
    - ``append_only``: items never change once created (``World.update`` refuses).
    - ``shape(schema) -> shape(item, rng, ctx)``: realism beyond the generic generator, which skips
      ``owned_fields``; ``mutate``: plausible changes for ``World.update``.
    """

    name: str
    path: str
    method: Literal["GET", "POST"] = "GET"
    key_field: str = "id"
    id_kind: Literal["uuid", "object_id"] = "uuid"
    time_field: str = "timestamp_created"
    updated_field: str = "timestamp_updated"
    order: Literal["asc", "desc"] = "asc"
    sort_param: str | None = None
    cursor: Literal["id", "timestamp_email", "timestamp"] = "id"
    params_in: Literal["query", "body"] = "query"
    filters: tuple[Filter, ...] = ()
    views: tuple[tuple[str, Callable[[dict[str, Any]], dict[str, Any]]], ...] = ()
    hidden_unless: tuple[tuple[str, str], ...] = ()
    default_size: int = 10
    span_days: int = 180
    legacy_fraction: float = 0.0
    paginated: bool = True
    rate_bucket: str | None = None
    append_only: bool = False
    owned_fields: frozenset[str] = frozenset()
    shape: Callable[[dict[str, Any]], realism.Shape] | None = None
    mutate: realism.Mutate | None = None
    key_of: Callable[[Any, int], str] | None = None

    def present(self, item: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """The item as served for these request parameters (``views`` and ``hidden_unless`` applied)."""
        for name, flag in self.hidden_unless:
            if name in item and not params.get(flag):
                item = {k: v for k, v in item.items() if k != name}
        for flag, view in self.views:
            if params.get(flag):
                item = view(item)
        return item

    @functools.cached_property
    def item_schema(self) -> dict[str, Any]:
        return spec.list_item_schema(self.path, self.method, "items" if self.paginated else None)

    @functools.cached_property
    def limit_bounds(self) -> tuple[int, int]:
        return spec.limit_bounds(self.path, self.method)

    @functools.cached_property
    def scopes(self) -> frozenset[str]:
        return operation_scopes(self.path, self.method)


def operation_scopes(path: str, method: str) -> frozenset[str]:
    """The scopes the spec's operation description accepts; empty when it names none (any key works)."""
    description = spec.operation(path, method).get("description", "")
    found = re.search(r"Requires one of the following scopes:(.*)", description)
    return frozenset(re.findall(r"`([^`]+)`", found.group(1))) if found else frozenset()


ENTITIES: dict[str, Entity] = {
    entity.name: entity
    for entity in (
        Entity(
            name="campaigns",
            path="/api/v2/campaigns",
            default_size=5,
            filters=(
                Filter("search", "contains", fields=("name",)),
                Filter("status", "eq"),
                Filter("exclude_status", "ne", field="status"),
                Filter("ai_sales_agent_id", "eq", field="ai_sdr_id"),
            ),
            owned_fields=frozenset(
                {"name", "sequences", "campaign_schedule", "email_list", "timestamp_updated"}
            ),
            shape=realism.campaign_shape,
            mutate=realism.campaign_mutate,
        ),
        Entity(
            name="accounts",
            path="/api/v2/accounts",
            key_field="email",
            cursor="timestamp_email",
            default_size=12,
            filters=(
                Filter("search", "contains", fields=("email", "first_name", "last_name")),
                Filter("status", "eq"),
                Filter("provider_code", "eq"),
            ),
            hidden_unless=(("tags", "include_tags"),),
            owned_fields=frozenset(
                {"first_name", "last_name", "warmup", "status_message", "timestamp_updated", "tags"}
            ),
            shape=realism.account_shape,
            mutate=realism.account_mutate,
            key_of=realism.account_key,
        ),
        Entity(
            name="leads",
            path="/api/v2/leads/list",
            method="POST",
            params_in="body",
            default_size=200,
            legacy_fraction=0.1,
            filters=(
                Filter("search", "contains", fields=("first_name", "last_name", "email")),
                Filter("campaign", "eq"),
                Filter("list_id", "eq"),
                Filter("in_campaign", "truthy", field="campaign"),
                Filter("in_list", "truthy", field="list_id"),
                Filter("ids", "in", field="id"),
                Filter("excluded_ids", "not_in", field="id"),
                Filter("contacts", "in", field="email"),
                Filter("filter", "custom", build=filters.lead_filter),
            ),
            owned_fields=frozenset(
                {
                    "first_name",
                    "last_name",
                    "email",
                    "company_name",
                    "company_domain",
                    "website",
                    "campaign",
                    "list_id",
                    "payload",
                    "timestamp_last_contact",
                    "status_summary",
                    "timestamp_updated",
                }
            ),
            shape=realism.lead_shape,
            mutate=realism.lead_mutate,
        ),
        Entity(
            name="emails",
            path="/api/v2/emails",
            order="desc",
            sort_param="sort_order",
            default_size=100,
            span_days=150,
            rate_bucket="emails",
            filters=(
                Filter("min_timestamp_created", "since"),
                Filter("max_timestamp_created", "before"),
                Filter("campaign_id", "eq"),
                Filter("list_id", "eq"),
                Filter("lead", "eq"),
                Filter("i_status", "eq"),
                Filter("is_unread", "truthy"),
                Filter("eaccount", "custom", build=filters.eaccounts),
                Filter("search", "custom", build=filters.emails_search),
                Filter("email_type", "custom", build=filters.email_type),
            ),
            views=(("preview_only", realism.email_preview),),
            owned_fields=frozenset(
                {
                    "subject",
                    "body",
                    "content_preview",
                    "campaign_id",
                    "lead",
                    "lead_id",
                    "eaccount",
                    "from_address_email",
                    "to_address_email_list",
                    "thread_id",
                    "message_id",
                    "timestamp_email",
                }
            ),
            shape=realism.email_shape,
            mutate=realism.email_mutate,
        ),
        Entity(
            name="audit_logs",
            path="/api/v2/audit-logs",
            time_field="timestamp",
            order="desc",
            default_size=50,
            filters=(
                Filter("start_date", "since"),
                Filter("end_date", "until"),
                Filter("activity_type", "eq"),
                Filter("search", "contains", fields=("user_name", "ip_address", "user_agent")),
            ),
            owned_fields=frozenset({"user_id", "user_name", "audit_metadata"}),
            shape=realism.audit_shape,
        ),
        Entity(
            name="lead_lists",
            path="/api/v2/lead-lists",
            cursor="timestamp",
            default_size=5,
            filters=(
                Filter("has_enrichment_task", "truthy"),
                Filter("search", "contains", fields=("name",)),
            ),
            owned_fields=frozenset({"name"}),
            shape=realism_more.lead_list_shape,
        ),
        Entity(
            name="lead_labels",
            path="/api/v2/lead-labels",
            cursor="timestamp",
            default_size=5,
            filters=(
                Filter("search", "contains", fields=("label",)),
                Filter("interest_status", "eq", field="interest_status_label"),
            ),
            owned_fields=frozenset({"label", "interest_status_label", "interest_status", "created_by"}),
            shape=realism_more.lead_label_shape,
        ),
        Entity(
            name="custom_tags",
            path="/api/v2/custom-tags",
            default_size=5,
            filters=(
                Filter("search", "contains", fields=("label",)),
                Filter("tag_ids", "any_of", field="id"),
                Filter("resource_ids", "custom", build=filters.tags_of_resources, with_world=True),
            ),
            owned_fields=frozenset({"label", "timestamp_updated"}),
            shape=realism_more.custom_tag_shape,
        ),
        Entity(
            name="custom_tag_mappings",
            path="/api/v2/custom-tag-mappings",
            default_size=8,
            filters=(Filter("resource_ids", "any_of", field="resource_id"),),
            owned_fields=frozenset({"tag_id", "resource_id", "resource_type"}),
            shape=realism_more.tag_mapping_shape,
        ),
        Entity(
            name="block_list_entries",
            path="/api/v2/block-lists-entries",
            default_size=8,
            filters=(
                Filter("domains_only", "truthy", field="is_domain"),
                Filter("search", "contains", fields=("bl_value",)),
            ),
            owned_fields=frozenset({"bl_value", "is_domain"}),
            shape=realism_more.block_list_shape,
        ),
        Entity(
            name="subsequences",
            path="/api/v2/subsequences",
            default_size=4,
            filters=(
                Filter("parent_campaign", "eq"),
                Filter("parent_campaign_not", "ne", field="parent_campaign"),
                Filter("search", "contains", fields=("name",)),
            ),
            owned_fields=frozenset({"parent_campaign", "name", "sequences", "conditions"}),
            shape=realism_more.subsequence_shape,
        ),
        Entity(
            name="webhooks",
            path="/api/v2/webhooks",
            default_size=3,
            filters=(Filter("campaign", "eq"), Filter("event_type", "eq")),
            owned_fields=frozenset(
                {
                    "target_hook_url",
                    "campaign",
                    "custom_interest_value",
                    "headers",
                    "status",
                    "timestamp_error",
                }
            ),
            shape=realism_more.webhook_shape,
        ),
        Entity(
            name="webhook_events",
            path="/api/v2/webhook-events",
            default_size=10,
            append_only=True,
            filters=(
                Filter("success", "truthy"),
                Filter("from", "since"),
                Filter("to", "until"),
                Filter("search", "custom", build=realism_more.webhook_event_search),
            ),
            owned_fields=frozenset(
                {
                    "webhook_url",
                    "timestamp_created_date",
                    "lead_email",
                    "payload",
                    "success",
                    "retry_count",
                    "will_retry",
                    "status_code",
                    "error_message",
                    "retry_group_id",
                    "retry_successful",
                    "timestamp_next_retry",
                    "response_time_ms",
                }
            ),
            shape=realism_more.webhook_event_shape,
        ),
        Entity(
            name="workspace_members",
            path="/api/v2/workspace-members",
            default_size=4,
            filters=(
                Filter("accepted", "truthy"),
                Filter("search", "custom", build=realism_more.member_search),
            ),
            owned_fields=frozenset({"user_id", "email", "name", "accepted", "role", "issuer_id"}),
            shape=realism_more.member_shape,
        ),
        Entity(
            name="workspace_group_members",
            path="/api/v2/workspace-group-members",
            default_size=3,
            owned_fields=frozenset(
                {
                    "admin_workspace_id",
                    "admin_workspace_name",
                    "sub_workspace_id",
                    "sub_workspace_name",
                    "timestamp_updated",
                }
            ),
            shape=realism_more.group_member_shape,
        ),
        Entity(
            name="api_keys",
            path="/api/v2/api-keys",
            default_size=3,
            owned_fields=frozenset({"name", "scopes", "key", "timestamp_updated"}),
            shape=realism_more.api_key_shape,
        ),
        Entity(
            name="background_jobs",
            path="/api/v2/background-jobs",
            id_kind="object_id",
            time_field="created_at",
            updated_field="updated_at",
            sort_param="sort_order",
            default_size=6,
            filters=(
                Filter("ids", "any_of", field="id"),
                Filter("included_ids", "any_of", field="id"),
                Filter("excluded_ids", "none_of", field="id"),
                Filter("type", "eq"),
                Filter("entity_type", "eq"),
                Filter("entity_id", "any_of"),
                Filter("status", "any_of"),
            ),
            owned_fields=frozenset({"entity_type", "entity_id", "data", "user_id", "updated_at"}),
            shape=realism_more.background_job_shape,
        ),
        Entity(
            name="inbox_placement_tests",
            path="/api/v2/inbox-placement-tests",
            sort_param="sort_order",
            default_size=4,
            span_days=200,
            filters=(Filter("search", "contains", fields=("name",)), Filter("status", "eq")),
            owned_fields=frozenset(
                {
                    "name",
                    "email_subject",
                    "email_body",
                    "emails",
                    "recipients_labels",
                    "recipients",
                    "schedule",
                    "timestamp_next_run",
                    "test_code",
                }
            ),
            shape=realism_more.placement_test_shape,
        ),
        Entity(
            name="inbox_placement_analytics",
            path="/api/v2/inbox-placement-analytics",
            default_size=50,
            span_days=150,
            append_only=True,
            filters=(
                Filter("test_id", "eq"),
                Filter("date_from", "since"),
                Filter("date_to", "until"),
                Filter("recipient_geo", "any_of"),
                Filter("recipient_type", "any_of"),
                Filter("recipient_esp", "any_of"),
                Filter("sender_email", "eq"),
            ),
            owned_fields=frozenset(
                {"test_id", "timestamp_created_date", "record_type", "sender_email", "recipient_email"}
            ),
            shape=realism_more.placement_analytics_shape,
        ),
        Entity(
            name="inbox_placement_reports",
            path="/api/v2/inbox-placement-reports",
            default_size=12,
            span_days=150,
            append_only=True,
            filters=(
                Filter("test_id", "eq"),
                Filter("date_from", "since"),
                Filter("date_to", "until"),
            ),
            views=(
                ("skip_spam_assassin_report", realism_more.without("spam_assassin_report")),
                ("skip_blacklist_report", realism_more.without("blacklist_report")),
            ),
            owned_fields=frozenset(
                {
                    "test_id",
                    "timestamp_created_date",
                    "domain",
                    "domain_ip",
                    "spam_assassin_score",
                    "spam_assassin_report",
                    "blacklist_report",
                }
            ),
            shape=realism_more.placement_report_shape,
        ),
        Entity(
            name="ai_agents",
            path="/api/v2/ai-agents",
            sort_param="sort_order",
            default_size=3,
            filters=(
                Filter("search", "contains", fields=("name",)),
                Filter("status", "eq"),
                Filter("type", "eq"),
            ),
        ),
        # served per agent by ``endpoints.py`` (``/ai-agents/{id}/activities``), narrowed by ``ai_sdr_id``
        Entity(
            name="ai_agent_activities",
            path="/api/v2/ai-agents/{id}/activities",
            default_size=12,
            filters=(Filter("ai_sdr_id", "eq"),),
            owned_fields=frozenset({"ai_sdr_id"}),
            shape=realism_more.agent_activity_shape,
        ),
        Entity(
            name="dfy_email_account_orders",
            path="/api/v2/dfy-email-account-orders",
            key_field="domain",
            cursor="timestamp",
            default_size=3,
            owned_fields=frozenset({"workspace_id"}),
            shape=realism_more.dfy_order_shape,
            key_of=realism_more.dfy_order_domain,
        ),
        Entity(
            name="dfy_email_account_order_accounts",
            path="/api/v2/dfy-email-account-orders/accounts",
            default_size=6,
            hidden_unless=(("password", "with_passwords"),),
            owned_fields=frozenset({"password"}),
            shape=realism_more.dfy_account_shape,
        ),
        Entity(
            name="crm_phone_numbers",
            path="/api/v2/crm-actions/phone-numbers",
            paginated=False,
            default_size=3,
            owned_fields=frozenset({"organization_id"}),
        ),
    )
}


@dataclass(frozen=True)
class Derived:
    """A list computed from other entities, one parent at a time (the parent's key is in the path).

    ``account_campaign_mappings``: ``GET /account-campaign-mappings/{email}`` lists the campaigns whose
    ``email_list`` holds that sending account. Items have no key of their own; ``World.items`` adds
    the parent key as ``parent_column``. The cursor is the last item's ``time_field`` value.
    """

    name: str
    path: str
    parent: str
    parent_column: str
    key_field: str
    time_field: str = "timestamp_created"

    @functools.cached_property
    def item_schema(self) -> dict[str, Any]:
        return spec.list_item_schema(self.path, "GET")

    @functools.cached_property
    def scopes(self) -> frozenset[str]:
        return operation_scopes(self.path, "GET")


DERIVED: dict[str, Derived] = {
    "account_campaign_mappings": Derived(
        name="account_campaign_mappings",
        path="/api/v2/account-campaign-mappings/{email}",
        parent="accounts",
        parent_column="account_email",
        key_field="campaign_id",
    )
}

WORKSPACE_PATH = "/api/v2/workspaces/current"

ADD_ONS: dict[str, tuple[str, ...]] = {
    "ai-agents": ("/api/v2/ai-agents", "/api/v2/ai-agents/{id}/activities"),
    "dfy-email-accounts": ("/api/v2/dfy-email-account-orders", "/api/v2/dfy-email-account-orders/accounts"),
    "crm": ("/api/v2/crm-actions/phone-numbers",),
    "inbox-placement": (
        "/api/v2/inbox-placement-tests",
        "/api/v2/inbox-placement-analytics",
        "/api/v2/inbox-placement-reports",
    ),
}
"""The paid add-ons a plan may lack (``World(missing_add_ons=...)``) and the spec paths they cover: a
workspace without one answers 402 there."""

ROUTES: dict[tuple[str, str], Entity] = {(entity.method, entity.path): entity for entity in ENTITIES.values()}


def register(entity: Entity) -> Entity:
    """Add (or replace) a simulated list endpoint; worlds created afterwards hold its items."""
    ENTITIES[entity.name] = entity
    ROUTES[(entity.method, entity.path)] = entity
    return entity


def workspace_schema() -> dict[str, Any]:
    response = spec.operation(WORKSPACE_PATH, "get")["responses"]["200"]["content"]["application/json"]
    return spec.resolve(response["schema"])
