"""The Instantly API v2 dlt source: one resource per entry of the endpoint table, all built the same way."""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import dlt
from dlt.common.configuration import with_config
from dlt.common.normalizers.json.relational import DataItemNormalizer as RelationalNormalizer
from dlt.extract import DltResource

from . import settings
from .client import InstantlyClient, RetryPolicy
from .columns import nested_hints, resource_columns
from .deletions import Deletes
from .endpoints import ENDPOINTS, ENDPOINTS_BY_NAME, Endpoint, Kind, check_resource_names
from .errors import ApiError, ConfigError
from .labels import enum_label_rows
from .merging import deduplicated_hints, merge_disposition
from .progress import ResourceStats, RunProgress
from .ratelimit import RateLimits, limiter_for
from .resources import FetchConfig, Fetcher
from .walks import parse_time

__all__ = [
    "ENDPOINTS",
    "configured_history",
    "configured_rate_limits",
    "current_workspace_id",
    "instantly_source",
    "walk_in_progress",
]


@dlt.source(
    name=settings.SOURCE_NAME,
    section=settings.SOURCE_NAME,
    root_key=True,
    max_table_nesting=settings.MAX_TABLE_NESTING,
)
def instantly_source(
    api_key: str = dlt.secrets.value,
    base_url: str = settings.DEFAULT_BASE_URL,
    resources: list[str] | None = None,
    start_date: str = settings.DEFAULT_START_DATE,
    overlap_seconds: float = settings.OVERLAP_SECONDS,
    checkpoint_seconds: float = settings.CHECKPOINT_SECONDS,
    analytics_trailing_days: int = settings.ANALYTICS_TRAILING_DAYS,
    max_requests_per_second: int = settings.WORKSPACE_REQUESTS_PER_SECOND,
    max_requests_per_minute: int = settings.WORKSPACE_REQUESTS_PER_MINUTE,
    emails_requests_per_minute: int = settings.EMAILS_REQUESTS_PER_MINUTE,
    rate_time_scale: float = settings.RATE_TIME_SCALE,
    max_attempts: int = settings.MAX_ATTEMPTS,
    backoff_base_seconds: float = settings.BACKOFF_BASE_SECONDS,
    backoff_max_seconds: float = settings.BACKOFF_MAX_SECONDS,
    request_timeout_seconds: float = settings.REQUEST_TIMEOUT_SECONDS,
    workspace_id: str | None = None,
    workspace_name: str | None = None,
    arrow_fast_path: bool = True,
    declare_distinct_keys: bool = False,
    deletes: str = settings.DEFAULT_DELETES,
    progress: RunProgress | None = None,
) -> list[DltResource]:
    """Every selected Instantly endpoint as a merge resource named like its table.

    Root lists walk for at most `checkpoint_seconds`, storing their resume cursor in state, so a caller
    that loops `pipeline.run` until no walk is in progress commits progress in slices.

    With `workspace_id` (several workspaces in one dataset), every row carries `workspace_id` and
    `workspace_name`, every key starts with `workspace_id`, and child tables carry `workspace_id` too.

    `arrow_fast_path` (default on): list endpoints marked `arrow` hand dlt Arrow tables built like its
    normalizer's output, which skips the row-by-row normalizer; off, every item goes as a dict.

    `declare_distinct_keys`: those endpoints' walks declare a load package's staging data deduplicated when
    no key repeats in it, which spares dlt's merge its costliest step. Only for callers that resume a package
    with each staging copy run once (see `merging`), as `pipelines.sync` does.

    `deletes` (`soft`, `hard`, `off`): whether walks over whole collections keep the keys they meet, for the
    caller to mark the rows they did not meet (`deletions`; `pipelines.sync` sweeps them after each load).
    """
    if not api_key or not api_key.strip():
        raise ConfigError(
            "no Instantly API key: set SOURCES__INSTANTLY__API_KEY or `api_key` under [sources.instantly] "
            "in .dlt/secrets.toml"
        )
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"base_url {base_url!r} is not an http(s) URL with a host; set SOURCES__INSTANTLY__BASE_URL or "
            "`base_url` under [sources.instantly] (default https://api.instantly.ai)"
        )
    deletes_mode = parse_deletes(deletes)
    start = parse_time(start_date)
    if start is None:
        raise ConfigError(f"start_date {start_date!r} is not an ISO 8601 date or time")
    try:
        selected = check_resource_names(resources)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    key = api_key.strip()
    limits = RateLimits(
        max_requests_per_second, max_requests_per_minute, emails_requests_per_minute, rate_time_scale
    )
    fetcher = Fetcher(
        FetchConfig(
            base_url=base_url,
            api_key=key,
            limiter=limiter_for(base_url, key, limits),
            retry=RetryPolicy(
                max_attempts, backoff_base_seconds, backoff_max_seconds, request_timeout_seconds
            ),
            start_date=start,
            overlap=timedelta(seconds=overlap_seconds),
            checkpoint_seconds=checkpoint_seconds,
            trailing_days=analytics_trailing_days,
            synced_at=datetime.now(UTC),
            workspace_columns=_workspace_columns(workspace_id, workspace_name),
            arrow_fast_path=arrow_fast_path,
            declare_distinct_keys=declare_distinct_keys,
            deletes=deletes_mode,
        ),
        progress or RunProgress(),
    )
    if workspace_id:
        # the relational normalizer copies these root columns into every child table
        RelationalNormalizer.update_normalizer_config(
            dlt.current.source_schema(),
            {"propagation": {"root": {column: column for column in WORKSPACE_KEY}}},
        )
    return _assemble(selected, fetcher)


WORKSPACE_KEY = ("workspace_id",)


def _workspace_columns(workspace_id: str | None, workspace_name: str | None) -> dict[str, str]:
    if not workspace_id:
        return {}
    return {"workspace_id": workspace_id, "workspace_name": workspace_name or workspace_id}


def _assemble(selected: tuple[str, ...], fetcher: Fetcher) -> list[DltResource]:
    """Build the selected resources, plus the unselected parents their fan-outs read from.

    A parent that feeds a selected child walks to its end in one slice (no checkpoint): parents are small
    lists, and a child must see every parent item.
    """
    wanted = [ENDPOINTS_BY_NAME[name] for name in selected if name in ENDPOINTS_BY_NAME]
    parents = {e.fan_out.parent for e in wanted if e.fan_out}
    roots: dict[str, DltResource] = {}
    for endpoint in ENDPOINTS:
        if endpoint.fan_out is None and (endpoint in wanted or endpoint.name in parents):
            roots[endpoint.name] = _root_resource(endpoint, fetcher, checkpoint=endpoint.name not in parents)
            roots[endpoint.name].selected = endpoint in wanted
    built = list(roots.values())
    for endpoint in wanted:
        if endpoint.fan_out is not None:
            built.append(roots[endpoint.fan_out.parent] | _child_resource(endpoint, fetcher))

    if "enum_labels" in selected:
        built.append(dlt.resource(enum_label_rows(), name="enum_labels", write_disposition="replace"))
    return built


def _hints(endpoint: Endpoint, fetcher: Fetcher) -> dict[str, Any]:
    """Merge on the endpoint's key; where workspaces share the dataset, on the workspace and that key (the
    same ids may exist in two workspaces). Spec numbers in child tables are declared there."""
    shared = bool(fetcher.config.workspace_columns)
    return {
        "name": endpoint.name,
        "primary_key": [*WORKSPACE_KEY, *endpoint.key_fields] if shared else endpoint.primary_key,
        "write_disposition": merge_disposition(),
        "columns": resource_columns(endpoint, shared),
        "nested_hints": nested_hints(endpoint, dlt.current.source_schema().naming) or None,
    }


def _root_resource(endpoint: Endpoint, fetcher: Fetcher, checkpoint: bool) -> DltResource:
    rows = fetcher.walk(endpoint, checkpoint) if endpoint.kind is Kind.LIST else fetcher.report(endpoint)
    # resources walk concurrently under the one shared rate limiter
    return _not_deduplicated(dlt.resource(rows, parallelized=True, **_hints(endpoint, fetcher)))


def _child_resource(endpoint: Endpoint, fetcher: Fetcher) -> DltResource:
    def per_parent_page(parents: list[dict[str, Any]]):
        if endpoint.kind is Kind.LIST:
            yield from fetcher.walk_children(endpoint, parents)
        else:
            yield from fetcher.report(endpoint, parents)

    return _not_deduplicated(dlt.transformer(per_parent_page, **_hints(endpoint, fetcher)))


def _not_deduplicated(resource: DltResource) -> DltResource:
    """Until a walk proves otherwise at its end (`merging`), dlt's merge deduplicates the staging data."""
    resource.apply_hints(additional_table_hints=deduplicated_hints(False))
    return resource


def walk_in_progress(resource_state: dict[str, Any]) -> bool:
    """True when a resource stopped at a checkpoint and has more pages to fetch."""
    return bool(resource_state.get("walk"))


def current_workspace_id(
    api_key: str, base_url: str = settings.DEFAULT_BASE_URL, limits: RateLimits | None = None
) -> str:
    """The id of the workspace `api_key` belongs to (GET /workspaces/current): what tells workspaces apart
    in a shared dataset. A wrong key fails here, before anything of that workspace is fetched. Pass the
    run's `limits`, so this request counts in the same limiter as the sync's."""
    endpoint = ENDPOINTS_BY_NAME["workspace"]
    key = api_key.strip()
    limiter = limiter_for(base_url, key, limits or RateLimits())
    with InstantlyClient(base_url, key, limiter, RetryPolicy()) as client:
        response, body = client.request(endpoint, ResourceStats())
    workspace_id = body.get("id") if isinstance(body, dict) else None
    if not workspace_id:
        raise ApiError(endpoint.path, response.status_code, "the answer names no workspace `id`")
    return str(workspace_id)


@with_config(sections=("sources", settings.SOURCE_NAME))
def configured_rate_limits(
    max_requests_per_second: int = settings.WORKSPACE_REQUESTS_PER_SECOND,
    max_requests_per_minute: int = settings.WORKSPACE_REQUESTS_PER_MINUTE,
    emails_requests_per_minute: int = settings.EMAILS_REQUESTS_PER_MINUTE,
    rate_time_scale: float = settings.RATE_TIME_SCALE,
) -> RateLimits:
    """The limits `instantly_source` resolves from the same config (arguments override it)."""
    return RateLimits(
        max_requests_per_second, max_requests_per_minute, emails_requests_per_minute, rate_time_scale
    )


def parse_deletes(value: str) -> Deletes:
    try:
        return Deletes(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(repr(mode.value) for mode in Deletes)
        raise ConfigError(
            f"deletes {value!r} is not one of {choices} (`deletes` under [sources.instantly], or "
            "SOURCES__INSTANTLY__DELETES)"
        ) from None


@with_config(sections=("sources", settings.SOURCE_NAME))
def configured_history(history: bool = settings.HISTORY) -> bool:
    """Whether the sync writes the `<table>_history` tables after each load (`history` under
    [sources.instantly], env SOURCES__INSTANTLY__HISTORY; `destinations.history`)."""
    return history
