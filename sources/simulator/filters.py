"""Request filters that need more than comparing one field (``Filter(op="custom", build=...)``)."""

from collections.abc import Callable
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]

_LEAD_FILTERS: dict[str, Predicate] = {
    "FILTER_VAL_CONTACTED": lambda lead: bool(lead.get("timestamp_last_contact")),
    "FILTER_VAL_NOT_CONTACTED": lambda lead: not lead.get("timestamp_last_contact"),
    "FILTER_VAL_ACTIVE": lambda lead: lead.get("status") == 1,
    "FILTER_VAL_COMPLETED": lambda lead: lead.get("status") == 3,
    "FILTER_VAL_BOUNCED": lambda lead: lead.get("status") == -1,
    "FILTER_VAL_UNSUBSCRIBED": lambda lead: lead.get("status") == -2,
    "FILTER_VAL_SKIPPED": lambda lead: lead.get("status") == -3,
    "FILTER_VAL_REPLIED": lambda lead: (lead.get("email_reply_count") or 0) > 0,
    "FILTER_VAL_NO_OPENS": lambda lead: not lead.get("email_open_count"),
    "FILTER_LEAD_INTERESTED": lambda lead: lead.get("lt_interest_status") == 1,
    "FILTER_LEAD_NOT_INTERESTED": lambda lead: lead.get("lt_interest_status") == -1,
    "FILTER_LEAD_MEETING_BOOKED": lambda lead: lead.get("lt_interest_status") == 2,
}


def lead_filter(value: Any) -> Predicate:
    """The body's ``filter`` (FILTER_VAL_* / FILTER_LEAD_*); values not simulated select everything."""
    return _LEAD_FILTERS.get(str(value), lambda lead: True)


def eaccounts(value: Any) -> Predicate:
    """``eaccount``: one sending account or a comma-separated list of them."""
    wanted = {part.strip().lower() for part in str(value).split(",") if part.strip()}
    return lambda email: str(email.get("eaccount", "")).lower() in wanted


def emails_search(value: Any) -> Predicate:
    """``search`` on emails: ``thread:<id>`` for one thread, else part of the lead's address."""
    text = str(value)
    if text.startswith("thread:"):
        thread = text[len("thread:") :]
        return lambda email: email.get("thread_id") == thread
    needle = text.lower()
    return lambda email: needle in str(email.get("lead", "")).lower()


_EMAIL_TYPES = {"received": (2,), "sent": (1, 3), "manual": (3,)}


def email_type(value: Any) -> Predicate:
    """``email_type``: received / sent / manual, as ``ue_type`` values."""
    wanted = _EMAIL_TYPES.get(str(value), ())
    return lambda email: email.get("ue_type") in wanted


def tags_of_resources(value: Any, world: Any) -> Predicate:
    """``resource_ids`` on custom tags: the tags mapped to any of these accounts (emails) or campaigns."""
    resources = value if isinstance(value, list) else str(value).split(",")
    wanted = {tag["id"] for resource in resources for tag in world.tags_of(str(resource).strip())}
    return lambda tag: tag.get("id") in wanted
