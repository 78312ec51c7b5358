"""The Instantly API v2 dlt source: one resource per entry of the endpoint table, all built the same way."""

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dlt
from dlt.extract import DltResource

from . import settings
from .client import InstantlyClient, RetryPolicy
from .columns import column_hints
from .endpoints import ENDPOINTS, Endpoint, select
from .errors import ConfigError
from .items import REJECTED_TABLE, ItemPreparer
from .progress import RunProgress
from .ratelimit import RateLimits, limiter_for
from .walks import Walk, parse_time

__all__ = ["ENDPOINTS", "instantly_source", "walk_in_progress"]


@dlt.source(name=settings.SOURCE_NAME, section=settings.SOURCE_NAME, root_key=True)
def instantly_source(
    api_key: str = dlt.secrets.value,
    base_url: str = settings.DEFAULT_BASE_URL,
    resources: list[str] | None = None,
    start_date: str = settings.DEFAULT_START_DATE,
    overlap_seconds: float = settings.OVERLAP_SECONDS,
    checkpoint_seconds: float = settings.CHECKPOINT_SECONDS,
    max_requests_per_second: int = settings.WORKSPACE_REQUESTS_PER_SECOND,
    max_requests_per_minute: int = settings.WORKSPACE_REQUESTS_PER_MINUTE,
    emails_requests_per_minute: int = settings.EMAILS_REQUESTS_PER_MINUTE,
    max_attempts: int = settings.MAX_ATTEMPTS,
    backoff_base_seconds: float = settings.BACKOFF_BASE_SECONDS,
    backoff_max_seconds: float = settings.BACKOFF_MAX_SECONDS,
    request_timeout_seconds: float = settings.REQUEST_TIMEOUT_SECONDS,
    progress: RunProgress | None = None,
) -> list[DltResource]:
    """Every selected Instantly list endpoint as a merge resource named like its table.

    Each resource walks its endpoint for at most `checkpoint_seconds`, storing its resume cursor in state,
    so a caller that loops `pipeline.run` until no walk is in progress commits progress in slices.
    """
    if not api_key or not api_key.strip():
        raise ConfigError(
            "no Instantly API key: set SOURCES__INSTANTLY__API_KEY or `api_key` under [sources.instantly] "
            "in .dlt/secrets.toml"
        )
    start = parse_time(start_date)
    if start is None:
        raise ConfigError(f"start_date {start_date!r} is not an ISO 8601 date or time")
    try:
        selected = select(resources)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    limits = RateLimits(max_requests_per_second, max_requests_per_minute, emails_requests_per_minute)
    walker = _Walker(
        base_url=base_url,
        api_key=api_key.strip(),
        limiter=limiter_for(base_url, api_key.strip(), limits),
        retry=RetryPolicy(max_attempts, backoff_base_seconds, backoff_max_seconds, request_timeout_seconds),
        start_date=start,
        overlap=timedelta(seconds=overlap_seconds),
        checkpoint_seconds=checkpoint_seconds,
        progress=progress or RunProgress(),
    )
    return [endpoint_resource(endpoint, walker) for endpoint in selected]


class _Walker:
    """Everything a resource needs to walk its endpoint; one per source instance."""

    def __init__(self, base_url, api_key, limiter, retry, start_date, overlap, checkpoint_seconds, progress):
        self.base_url = base_url
        self._api_key = api_key
        self.limiter = limiter
        self.retry = retry
        self.start_date = start_date
        self.overlap = overlap
        self.checkpoint_seconds = checkpoint_seconds
        self.progress = progress

    def client(self) -> InstantlyClient:
        return InstantlyClient(self.base_url, self._api_key, self.limiter, self.retry)

    def pages(self, endpoint: Endpoint) -> Iterator[list[dict[str, Any]] | Any]:
        state = dlt.current.resource_state()
        walk = Walk(endpoint, state, self.start_date, self.overlap)
        preparer = ItemPreparer(endpoint)
        stats = self.progress.of(endpoint.name)
        deadline = time.monotonic() + self.checkpoint_seconds
        with self.client() as client:
            for page in client.paginate(endpoint, walk.params, walk.cursor, stats):
                walk.advance(page.next_cursor, page.server_time)
                items, rejected = preparer.prepare(page.items, page.contains_nul)
                rows = walk.keep(items)
                stats.rows_kept += len(rows)
                stats.rejected += len(rejected)
                if rejected:
                    yield dlt.mark.with_hints(
                        rejected,
                        dlt.mark.make_hints(table_name=REJECTED_TABLE, write_disposition="append"),
                    )
                if rows:
                    yield rows
                if not walk.complete and time.monotonic() >= deadline:
                    return  # checkpoint: the cursor in state resumes this walk in the next slice
        walk.finish()


def endpoint_resource(endpoint: Endpoint, walker: _Walker) -> DltResource:
    return dlt.resource(
        walker.pages(endpoint),
        name=endpoint.name,
        primary_key=endpoint.primary_key,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=column_hints(endpoint),
        parallelized=True,  # resources walk concurrently under the one shared rate limiter
    )


def walk_in_progress(resource_state: dict[str, Any]) -> bool:
    """True when a resource stopped at a checkpoint and has more pages to fetch."""
    return bool(resource_state.get("walk"))
