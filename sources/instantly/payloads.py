"""The content hash of a webhook event's payload: what identifies an event, which carries no id.

A pushed event is the `payload` of the polled `webhook_events` item that records its delivery (the spec:
"JSON payload that was sent"), so both get the same hash and an event that came both ways is recognised.
Canonical JSON: keys sorted at every level, no whitespace, UTF-8 unescaped, numbers as parsed (orjson).
"""

import hashlib
from typing import Any

import orjson


def canonical_json(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def content_hash(payload: Any) -> str:
    """SHA-256 of the canonical JSON, hex: the same for the same event however its keys were ordered."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def event_content_hash(item: dict[str, Any]) -> str | None:
    """The hash of a polled `webhook_events` item's payload (None when it has none)."""
    payload = item.get("payload")
    return None if payload is None else content_hash(payload)
