"""The settings of pushed webhooks, from dlt config: `[sources.instantly.webhooks]` in .dlt/config.toml and
.dlt/secrets.toml, or env vars such as SOURCES__INSTANTLY__WEBHOOKS__SECRET."""

from dataclasses import dataclass

import dlt
from dlt.common.configuration import with_config
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from sources.instantly import settings
from sources.instantly.errors import ConfigError

SECTIONS = ("sources", settings.SOURCE_NAME, "webhooks")


@dataclass(frozen=True)
class WebhookSettings:
    secret: str
    load_interval_seconds: float = settings.WEBHOOK_LOAD_INTERVAL_SECONDS
    load_batch_events: int = settings.WEBHOOK_LOAD_BATCH_EVENTS
    max_body_bytes: int = settings.WEBHOOK_MAX_BODY_BYTES

    def __repr__(self) -> str:  # never the secret
        return (
            f"WebhookSettings(load every {self.load_interval_seconds} s or {self.load_batch_events} events)"
        )


@with_config(sections=SECTIONS)
def _resolve(
    secret: str = dlt.secrets.value,
    load_interval_seconds: float = settings.WEBHOOK_LOAD_INTERVAL_SECONDS,
    load_batch_events: int = settings.WEBHOOK_LOAD_BATCH_EVENTS,
    max_body_bytes: int = settings.WEBHOOK_MAX_BODY_BYTES,
) -> WebhookSettings:
    return WebhookSettings(
        str(secret).strip(), float(load_interval_seconds), int(load_batch_events), int(max_body_bytes)
    )


def webhook_settings() -> WebhookSettings:
    try:
        found = _resolve()
    except ConfigFieldMissingException:
        found = None
    if found is None or len(found.secret.strip()) < 16:
        raise ConfigError(
            "no webhook secret (16 characters or more): set SOURCES__INSTANTLY__WEBHOOKS__SECRET or `secret` "
            "under [sources.instantly.webhooks] in .dlt/secrets.toml"
        )
    if found.load_interval_seconds <= 0 or found.load_batch_events < 1 or found.max_body_bytes < 1:
        raise ConfigError(
            "load_interval_seconds, load_batch_events and max_body_bytes under [sources.instantly.webhooks] "
            "must be positive"
        )
    return found
