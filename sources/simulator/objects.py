"""Answers of the endpoints that serve no stored list: an object per parent item (a campaign's sending status,
a lead list's verification stats, a tracking domain's status), reports (a subsequence's steps, webhook
events per day), billing and the unread count.

Each is built from the spec's response schema (``generate.compile_object``, numbers mixed like the lists')
on a stream keyed by the world's seed, the endpoint and the item it is about: the same world answers the
same. Figures that other items decide (webhook events per day, unread emails) are counted from them.
"""

import functools
from typing import Any

from sources.instantly import spec

from .clock import iso_ms
from .errors import ApiError
from .generate import Ctx, Plan, build, compile_object
from .rand import Rng, salt
from .world import World

SUBSCRIPTION_PRODUCTS = ("pid_hg_v1", "pid_sic_v1", "pid_crm_g", "pid_ip_g")


@functools.cache
def _plan(path: str, field: str | None = None) -> Plan:
    """The generators of an answer's properties (of its rows: ``field``'s items, or the array's items)."""
    answer = spec.resolve(spec.response_schema(path, "GET"))
    if field or answer.get("type") == "array":
        answer = spec.list_item_schema(path, "GET", field)
    return compile_object(answer)


def _generated(world: World, path: str, about: str, *, field: str | None = None, part: int = 0) -> dict:
    rng = Rng(world.seed, salt(path), salt(about), part)
    return build(
        _plan(path, field), rng, Ctx(world, part, world.origin_ms, world.anchor_ms, "timestamp_created")
    )


def _existing(world: World, entity: str, key: str, what: str) -> None:
    try:
        world.get(entity, key)
    except KeyError:
        raise ApiError(404, f"{what} not found") from None


def sending_status(world: World, params: dict[str, Any], path: dict[str, str]) -> dict[str, Any]:
    """``GET /campaigns/{id}/sending-status``: always with the campaign id, its status and issue tracking."""
    campaign_id = path["id"]
    _existing(world, "campaigns", campaign_id, "Campaign")
    answer = _generated(world, "/api/v2/campaigns/{id}/sending-status", campaign_id)
    diagnostics = answer["diagnostics"] = answer.get("diagnostics") or {}
    diagnostics.update(campaign_id=campaign_id, last_updated=iso_ms(world.anchor_ms))
    diagnostics.setdefault("status", "healthy")
    diagnostics.setdefault("issue_tracking", {"consecutive_loops_with_issue": 0})
    return answer


def verification_stats(world: World, params: dict[str, Any], path: dict[str, str]) -> dict[str, Any]:
    list_id = path["id"]
    _existing(world, "lead_lists", list_id, "Lead list")
    return _generated(world, "/api/v2/lead-lists/{id}/verification-stats", list_id)


def subsequence_steps(world: World, params: dict[str, Any], path: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /subsequences/{id}/analytics/steps``: rows per zero-based step and variant (as strings), and
    sometimes one the API could not attribute (null step and variant)."""
    subsequence_id = path["id"]
    _existing(world, "subsequences", subsequence_id, "Subsequence")
    route = "/api/v2/subsequences/{id}/analytics/steps"
    shape = Rng(world.seed, salt(route), salt(subsequence_id))
    rows = []
    for step in range(shape.between(1, 3)):
        for variant in range(shape.between(1, 2)):
            row = _generated(world, route, subsequence_id, part=step * 10 + variant + 1)
            rows.append({**row, "step": str(step), "variant": str(variant)})
    if shape.chance(0.3):
        rows.append({**_generated(world, route, subsequence_id), "step": None, "variant": None})
    return rows


def webhook_summary(world: World, params: dict[str, Any], path: dict[str, str]) -> dict[str, Any]:
    """``GET /webhook-events/summary-by-date``: the webhook events of each day from ``from`` to ``to``."""
    low, high = str(params.get("from") or "")[:10], str(params.get("to") or "9999")[:10]
    days: dict[str, list[int]] = {}
    for event in world.items("webhook_events"):
        day = event["timestamp_created"][:10]
        if low <= day <= high:
            counts = days.setdefault(day, [0, 0])
            counts[0] += 1
            counts[1] += event.get("success") is True
    items = []
    for day, (total, successful) in sorted(days.items()):
        rate = successful / total
        items.append(
            {
                "date": day,
                "total_events": total,
                "successful_events": successful,
                "failed_events": total - successful,
                "success_rate": int(rate) if rate.is_integer() else round(rate, 4),
            }
        )
    return {"items": items}


def tracking_domain_status(world: World, params: dict[str, Any], path: dict[str, str]) -> dict[str, Any]:
    """``GET /accounts/ctd/status?host=``: a host no account uses is not found."""
    host = params["host"]
    if host not in world.tracking_domains():
        raise ApiError(404, "Custom tracking domain not found")
    return {**_generated(world, "/api/v2/accounts/ctd/status", host), "host": host}


def unread_count(world: World, params: dict[str, Any], path: dict[str, str]) -> dict[str, Any]:
    return {"count": world.unread_emails()}


def plan_details(world: World, params: dict[str, Any], path: dict[str, str]) -> dict[str, Any]:
    answer = _generated(world, "/api/v2/workspace-billing/plan-details", "plan")
    return {**answer, "organization_id": world.org_id, "organization_name": world.name}


def subscription_details(world: World, params: dict[str, Any], path: dict[str, str]) -> dict[str, Any]:
    """One subscription per product the workspace pays for."""
    route = "/api/v2/workspace-billing/subscription-details"
    products = Rng(world.seed, salt(route)).sample(SUBSCRIPTION_PRODUCTS, 2)
    subscriptions = [
        {
            **_generated(world, route, product, field="subscriptions"),
            "product_id": product,
            "workspace_id": world.org_id,
        }
        for product in products
    ]
    cancelled = all(row.get("cancel_at_time") is not None for row in subscriptions)
    return {"subscriptions": subscriptions, "all_subs_cancelled": cancelled}
