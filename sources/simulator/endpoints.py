"""The simulated endpoints that are not plain lists: the workspace, analytics, the per-account list of
campaign mappings (a path parameter, items computed from the campaigns), the activities per AI agent, and
the generated objects and reports of ``objects.py``.

Each entry maps a spec path (``{name}`` placeholders allowed) to ``answer(world, params, path_params)``;
``params`` are the query parameters already checked against the spec. Scopes come from the spec like
for lists (the analytics operations name none, so any key may call them).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from . import objects
from .clock import parse_instant
from .errors import ApiError
from .pages import DEFAULT_LIMIT
from .registry import DERIVED, WORKSPACE_PATH
from .world import World

Answer = Callable[[World, dict[str, Any], dict[str, str]], Any]


@dataclass(frozen=True)
class Endpoint:
    path: str
    answer: Answer
    method: str = "GET"
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))


def account_campaign_mappings(world: World, params: dict[str, Any], path: dict[str, str]) -> dict[str, Any]:
    """One page of ``GET /account-campaign-mappings/{email}``; the cursor is the last campaign's
    ``timestamp_created``. The spec gives ``limit`` no bounds: any limit of at least 1 is served."""
    email = unquote(path["email"])
    try:
        rows = world.account_campaigns(email)
    except KeyError:
        raise ApiError(404, "Account not found") from None
    limit = params.get("limit")
    limit = DEFAULT_LIMIT if limit is None else int(limit)
    if limit < 1:
        raise ApiError(400, "querystring/limit must be >= 1")
    time_field = DERIVED["account_campaign_mappings"].time_field
    after = params.get("starting_after")
    if after not in (None, ""):
        after_ms = parse_instant(str(after))
        if after_ms is None:
            raise ApiError(400, f"Invalid starting_after value: {str(after)[:100]!r}")
        rows = [row for row in rows if (parse_instant(row[time_field]) or 0) > after_ms]
    page = rows[:limit]
    answer: dict[str, Any] = {"items": page}
    if page and len(page) == limit:
        answer["next_starting_after"] = page[-1][time_field]
    return answer


def agent_activities(world: World, params: dict[str, Any], path: dict[str, str]) -> dict[str, Any]:
    """One page of ``GET /ai-agents/{id}/activities``: the activities whose ``ai_sdr_id`` is the agent."""
    agent = unquote(path["id"])
    try:
        world.get("ai_agents", agent)
    except KeyError:
        raise ApiError(404, "AI agent not found") from None
    return world.page("ai_agent_activities", {**params, "ai_sdr_id": agent})


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(WORKSPACE_PATH, lambda world, params, path: world.workspace()),
    Endpoint(
        "/api/v2/campaigns/analytics", lambda world, params, path: world.analytics.campaign_totals(params)
    ),
    Endpoint(
        "/api/v2/campaigns/analytics/overview",
        lambda world, params, path: world.analytics.campaign_overview(params),
    ),
    Endpoint(
        "/api/v2/campaigns/analytics/daily",
        lambda world, params, path: world.analytics.campaign_daily(params),
    ),
    Endpoint(
        "/api/v2/campaigns/analytics/steps",
        lambda world, params, path: world.analytics.campaign_steps(params),
    ),
    Endpoint(
        "/api/v2/accounts/analytics/daily", lambda world, params, path: world.analytics.account_daily(params)
    ),
    Endpoint(
        "/api/v2/subsequences/analytics",
        lambda world, params, path: world.analytics.subsequence_totals(params),
    ),
    Endpoint(DERIVED["account_campaign_mappings"].path, account_campaign_mappings),
    Endpoint("/api/v2/ai-agents/{id}/activities", agent_activities),
    Endpoint("/api/v2/campaigns/{id}/sending-status", objects.sending_status),
    Endpoint("/api/v2/subsequences/{id}/analytics/steps", objects.subsequence_steps),
    Endpoint("/api/v2/lead-lists/{id}/verification-stats", objects.verification_stats),
    Endpoint("/api/v2/webhook-events/summary-by-date", objects.webhook_summary),
    Endpoint("/api/v2/accounts/ctd/status", objects.tracking_domain_status),
    Endpoint("/api/v2/emails/unread/count", objects.unread_count),
    Endpoint("/api/v2/workspace-billing/plan-details", objects.plan_details),
    Endpoint("/api/v2/workspace-billing/subscription-details", objects.subscription_details),
)

_EXACT = {(endpoint.method, endpoint.path): endpoint for endpoint in ENDPOINTS if "{" not in endpoint.path}
_TEMPLATED = [endpoint for endpoint in ENDPOINTS if "{" in endpoint.path]


def route(method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
    """The endpoint answering ``method path`` and its path parameters, or None."""
    found = _EXACT.get((method, path))
    if found is not None:
        return found, {}
    for endpoint in _TEMPLATED:
        if endpoint.method == method:
            match = endpoint.pattern.match(path)
            if match:
                return endpoint, match.groupdict()
    return None
