"""`instantly-sync webhooks register --url URL`: the workspace's webhook to `serve`, created once and kept in
line with our settings.

The webhook is found by its target URL: none, and one is created (`POST /webhooks`); one, and it is updated
(`PATCH /webhooks/{id}`) only where it differs (the secret header, the event type). Its other headers are
kept. A create is sent once, never retried: a retry after a lost answer could make a second webhook, where a
rerun of the command finds the first one and reconciles it.
"""

from dataclasses import dataclass, replace
from typing import Any

import dlt

from sources.instantly import configured_rate_limits, settings
from sources.instantly.client import InstantlyClient, RetryPolicy
from sources.instantly.endpoints import ENDPOINTS_BY_NAME, Endpoint
from sources.instantly.errors import ConfigError
from sources.instantly.progress import ResourceStats
from sources.instantly.ratelimit import limiter_for

LIST = ENDPOINTS_BY_NAME["webhooks"]
CREATE = Endpoint(name="webhooks", path="/api/v2/webhooks", method="POST")
UPDATE = Endpoint(name="webhooks", path="/api/v2/webhooks/{id}", method="PATCH")
DEFAULT_EVENT_TYPE = "all_events"
DEFAULT_NAME = "instantly-sync"


@dataclass(frozen=True)
class Registered:
    action: str  # created, updated, unchanged
    webhook_id: str
    others: int  # further webhooks with the same URL (made elsewhere), left as they are


def register(
    url: str, secret: str, event_type: str = DEFAULT_EVENT_TYPE, base_url: str | None = None
) -> Registered:
    api_key = str(dlt.secrets.get("sources.instantly.api_key") or "").strip()
    if not api_key:
        raise ConfigError(
            "no Instantly API key: set SOURCES__INSTANTLY__API_KEY or `api_key` under [sources.instantly]"
        )
    base = base_url or dlt.config.get("sources.instantly.base_url") or settings.DEFAULT_BASE_URL
    stats = ResourceStats()
    with _client(base, api_key) as client:
        pages = client.paginate(LIST, {}, None, stats)
        found = [hook for page in pages for hook in page.items if hook.get("target_hook_url") == url]
        if not found:
            body = {
                "target_hook_url": url,
                "event_type": event_type,
                "name": DEFAULT_NAME,
                "headers": {settings.WEBHOOK_SECRET_HEADER: secret},
            }
            with _client(base, api_key, attempts=1) as once:
                _, created = once.request(CREATE, stats, json=body)
            return Registered("created", str(created["id"]), 0)
        hook = min(found, key=lambda found_hook: found_hook.get("timestamp_created") or "")
        changes = _changes(hook, secret, event_type)
        if changes:
            client.request(UPDATE, stats, json=changes, path=UPDATE.path.format(id=hook["id"]))
        return Registered("updated" if changes else "unchanged", str(hook["id"]), len(found) - 1)


def _client(base_url: str, api_key: str, attempts: int | None = None) -> InstantlyClient:
    retry = RetryPolicy() if attempts is None else replace(RetryPolicy(), max_attempts=attempts)
    return InstantlyClient(base_url, api_key, limiter_for(base_url, api_key, configured_rate_limits()), retry)


def _changes(hook: dict[str, Any], secret: str, event_type: str) -> dict[str, Any]:
    """What to PATCH so the webhook sends our secret header to every event of `event_type`."""
    changes: dict[str, Any] = {}
    headers = dict(hook.get("headers") or {})
    if headers.get(settings.WEBHOOK_SECRET_HEADER) != secret:
        changes["headers"] = {**headers, settings.WEBHOOK_SECRET_HEADER: secret}
    if hook.get("event_type") != event_type:
        changes["event_type"] = event_type
    return changes
