"""The simulated write operations: creating and updating webhooks (``POST /webhooks``,
``PATCH /webhooks/{id}``), so ``instantly-sync webhooks register`` can be tested against the API's rules.

Each answer gets the JSON body as its ``params`` and checks it against the spec (``validate.write_body``);
what is written is what ``GET /webhooks``
lists afterwards, ``headers`` included (the sync drops them, the API keeps them).
"""

from typing import Any

from .endpoints import Endpoint
from .errors import ApiError
from .validate import write_body
from .world import World

WEBHOOKS = "webhooks"
WEBHOOKS_PATH = "/api/v2/webhooks"
WEBHOOK_PATH = "/api/v2/webhooks/{id}"
# what a created webhook holds for each writable field the body leaves out
CREATE_DEFAULTS = {"campaign": None, "name": None, "event_type": None, "custom_interest_value": None}


def create_webhook(world: World, body: Any, path: dict[str, str]) -> dict[str, Any]:
    fields = write_body(WEBHOOKS_PATH, "POST", body)
    created = world.add(WEBHOOKS)[0]  # a new id and creation time; every field below is the body's
    changes = {**CREATE_DEFAULTS, "headers": None, **fields, "status": 1, "timestamp_error": None}
    return world.update(WEBHOOKS, ids=[created["id"]], changes=changes)[0]


def update_webhook(world: World, body: Any, path: dict[str, str]) -> dict[str, Any]:
    fields = write_body(WEBHOOK_PATH, "PATCH", body)
    try:
        world.get(WEBHOOKS, path["id"])
    except KeyError:
        raise ApiError(404, "Webhook not found") from None
    return world.update(WEBHOOKS, ids=[path["id"]], changes=fields)[0]


WRITES: tuple[Endpoint, ...] = (
    Endpoint(WEBHOOKS_PATH, create_webhook, method="POST"),
    Endpoint(WEBHOOK_PATH, update_webhook, method="PATCH"),
)


def route(method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
    """The write operation answering ``method path`` and its path parameters, or None."""
    for endpoint in WRITES:
        match = endpoint.pattern.match(path) if endpoint.method == method else None
        if match:
            return endpoint, match.groupdict()
    return None
