"""How each kind of endpoint becomes rows: root list walks, per-parent walks, reports and single objects.

Every resource goes through the same steps: paced requests, item cleaning (`ItemPreparer`), and one error
policy (`Fetcher.tracking`): a 403 (the key lacks this endpoint's scope) skips the resource, so does a 402
from a paid add-on the plan lacks (not in the plan, no failure), any other failure fails that resource
alone, and the run goes on.
"""

import copy
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import dlt
import pyarrow as pa

from . import dates, settings
from .arrow_rows import ArrowTables
from .client import InstantlyClient, Page, RetryPolicy
from .columns import resource_columns
from .deletions import Deletes, SeenKeys, marks_deletions
from .endpoints import Endpoint, Strategy
from .errors import ApiError, AuthError, InstantlyError
from .items import ItemPreparer, needs_cleaning, rejected_rows
from .merging import KeyLedger, deduplicated_hints
from .progress import ResourceStats, RunProgress
from .ratelimit import WorkspaceLimiter
from .walks import Walk, parse_time

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchConfig:
    """The resolved source configuration every resource shares."""

    base_url: str
    api_key: str = field(repr=False)
    limiter: WorkspaceLimiter
    retry: RetryPolicy
    start_date: datetime
    overlap: timedelta
    checkpoint_seconds: float
    trailing_days: int
    synced_at: datetime
    # columns every row of this workspace carries when several workspaces share a dataset (else empty)
    workspace_columns: dict[str, str] = field(default_factory=dict)
    # list endpoints marked `arrow` hand dlt Arrow tables instead of dicts (see `arrow_rows`)
    arrow_fast_path: bool = True
    # walks of those endpoints declare a package's staging data deduplicated when no key repeats in it;
    # only for callers that restart a resumed package's copies from empty staging (`pipelines.resume`)
    declare_distinct_keys: bool = False
    # what a walk that met the whole collection does to the rows it did not meet (`deletions`)
    deletes: Deletes = Deletes.SOFT

    @property
    def today(self) -> date:
        return self.synced_at.date()


class Fetcher:
    def __init__(self, config: FetchConfig, progress: RunProgress):
        self.config = config
        self.progress = progress

    def client(self) -> InstantlyClient:
        return InstantlyClient(
            self.config.base_url, self.config.api_key, self.config.limiter, self.config.retry
        )

    # --- root lists -------------------------------------------------------------------------------------

    def walk(self, endpoint: Endpoint, checkpoint: bool) -> Iterator[Any]:
        """Walk a list from its stored cursor; stop at the checkpoint deadline with the cursor stored.

        The cursor moves before a page's rows are yielded (dlt commits state and rows together). So should
        the resource fail, its state goes back to where every row it passed had been handed over: after
        the last page yielded whole, or, when the held batches cannot be built, to the slice's start.
        """
        state = dlt.current.resource_state()
        at_start = copy.deepcopy(state)
        handed_over = at_start
        stats = self.progress.of(endpoint.name)
        deadline = time.monotonic() + self.config.checkpoint_seconds if checkpoint else float("inf")
        batches = keys = walk = None

        def on_skip() -> None:
            if walk is not None:
                walk.abandon_if_unstarted()

        with self.tracking(endpoint, stats, on_skip, on_fail=lambda: _restore(state, handed_over)):
            fresh = "walk" not in state
            walk = Walk(endpoint, state, self.config.start_date, self.config.overlap)
            self._track_seen_keys(endpoint, stats, walk, fresh)
            batches = self._batches(endpoint)
            keys = KeyLedger(endpoint.key_fields) if batches and self.config.declare_distinct_keys else None
            with self.client() as client:
                preparer = ItemPreparer(endpoint)
                ended_early = False
                for page in self._resumed_pages(client, endpoint, walk, stats):
                    walk.advance(page.next_cursor, page.server_time)
                    if stats.seen is not None:
                        stats.seen.started_at = walk.started_at
                        stats.seen.add(page.items)  # before cleaning: rejected items exist too
                    items, rejected = preparer.prepare(page.items, page.needs_cleaning)
                    if stats.seen is not None and page.needs_cleaning:
                        stats.seen.add(items)  # as stored, should cleaning have changed a key
                    kept = walk.keep(items)
                    if keys:
                        keys.add(kept)
                    yield from self._emit(kept, rejected, stats, batches)
                    handed_over = copy.deepcopy(state)
                    ended_early = page.ended_early
                    if not walk.complete and time.monotonic() >= deadline:
                        break  # checkpoint: the cursor in state resumes this walk in the next slice
                else:
                    stats.ended_early = ended_early
                    if ended_early:
                        walk.end_early()
                    else:
                        walk.finish()
                        stats.walk_complete = stats.seen is not None
        if batches:  # everything the cursor in state has passed is yielded, as dlt commits both together
            with self.tracking(endpoint, stats, on_fail=lambda: _restore(state, at_start)):
                yield from batches.close(deduplicated_hints(keys.all_distinct()) if keys else None)

    def _resumed_pages(
        self, client: InstantlyClient, endpoint: Endpoint, walk: Walk, stats: ResourceStats
    ) -> Iterator[Page]:
        """The walk's pages from its stored cursor. A stored cursor the API now refuses (400/404: its item
        was deleted while the sync was stopped) restarts the walk from its beginning, within the stored
        high-water mark's window, instead of failing on it forever."""
        resumed = walk.cursor is not None
        pages = client.paginate(endpoint, walk.params, walk.cursor, stats)
        try:
            first = next(pages, None)
        except ApiError as exc:
            if not resumed or exc.status not in settings.RESUME_CURSOR_REFUSED:
                raise
            stats.warn(
                f"the stored resume cursor {walk.cursor!r} was refused ({exc.detail}); the walk started again"
            )
            walk.restart()
            self._track_seen_keys(endpoint, stats, walk, fresh=True)
            pages = client.paginate(endpoint, walk.params, walk.cursor, stats)
            first = next(pages, None)
        if first is not None:
            yield first
            yield from pages

    def _track_seen_keys(self, endpoint: Endpoint, stats: ResourceStats, walk: Walk, fresh: bool) -> None:
        """Keep the keys of a walk that this process sees from its first page (`deletions`); one that
        resumes an earlier run's cursor cannot tell what it missed, and marks nothing."""
        if self.config.deletes is Deletes.OFF or not marks_deletions(endpoint):
            stats.seen = None
        elif fresh:
            stats.seen = self._seen_keys(endpoint)
        elif stats.seen is None or stats.seen.started_at != walk.started_at:
            stats.seen = None
            logger.info(
                "%s resumes a walk an earlier run began: its deletions are marked by the next whole walk",
                endpoint.name,
            )

    def _seen_keys(self, endpoint: Endpoint) -> SeenKeys:
        workspace_id = self.config.workspace_columns.get("workspace_id")
        return SeenKeys(endpoint.key_fields, self.config.deletes, workspace_id)

    def _batches(self, endpoint: Endpoint) -> "Batches | None":
        if not endpoint.arrow:
            return None
        if not self.config.arrow_fast_path:
            return Batches(None, self.progress.of(endpoint.name))
        columns = resource_columns(endpoint, shared=bool(self.config.workspace_columns))
        return Batches(ArrowTables(endpoint.name, columns), self.progress.of(endpoint.name))

    # --- lists per parent item ------------------------------------------------------------------------

    def walk_children(self, endpoint: Endpoint, parents: list[dict[str, Any]]) -> Iterator[Any]:
        fan_out = endpoint.fan_out
        stats = self.progress.of(endpoint.name)
        if not stats.ok:
            return  # said once for the resource, not again for every page of parents
        if self.config.deletes is not Deletes.OFF and stats.seen is None and marks_deletions(endpoint):
            stats.seen = self._seen_keys(endpoint)  # over every parent: `deletions.complete_walks`
        with self.tracking(endpoint, stats), self.client() as client:
            preparer = ItemPreparer(endpoint)
            gone: set[str] = set()
            for value in _parent_values(parents, fan_out.parent_field):
                params, path = _parent_request(endpoint, value)
                with self.parents_gone_skipped(stats, [value], gone):
                    for page in client.paginate(endpoint, params, None, stats, path=path):
                        with_parent = _with_column(page.items, fan_out.column, value)
                        if stats.seen is not None:
                            stats.seen.add(with_parent)
                        stats.ended_early = stats.ended_early or page.ended_early
                        items, rejected = preparer.prepare(with_parent, page.needs_cleaning)
                        if stats.seen is not None and page.needs_cleaning:
                            stats.seen.add(items)
                        yield from self._emit(items, rejected, stats)

    # --- reports and objects ---------------------------------------------------------------------------

    def report(self, endpoint: Endpoint, parents: list[dict[str, Any]] | None = None) -> Iterator[Any]:
        """A report's rows or an object, once or per parent item: unpaginated answers."""
        stats = self.progress.of(endpoint.name)
        daily = endpoint.strategy is Strategy.DAILY
        fetched_through = dlt.current.resource_state().setdefault("fetched_through", {}) if daily else {}
        if not stats.ok:
            return  # said once for the resource, not again for every page of parents
        with self.tracking(endpoint, stats), self.client() as client:
            preparer = ItemPreparer(endpoint)
            gone: set[str] = set()
            for request in self._report_requests(endpoint, parents, fetched_through):
                if request.parents and gone.issuperset(request.parents):
                    continue  # gone since an earlier window: their other windows are not asked for
                answer = None
                with self.parents_gone_skipped(stats, request.parents, gone):
                    answer = client.request(endpoint, stats, params=request.params, path=request.path)
                if answer is None:
                    continue
                response, body = answer
                if endpoint.rows_in:
                    body = body.get(endpoint.rows_in) if isinstance(body, dict) else None
                    if not isinstance(body, list):
                        raise ApiError(endpoint.path, response.status_code, f"no `{endpoint.rows_in}` list")
                rows = body if isinstance(body, list) else [body]
                stats.pages += 1
                stats.rows_fetched += len(rows)
                if endpoint.strategy is Strategy.SNAPSHOT:
                    rows = [{**row, "synced_at": self.config.synced_at} for row in rows]
                column = endpoint.fan_out.column if endpoint.fan_out else None
                with_parent = _with_column(rows, column, request.column_value)
                items, rejected = preparer.prepare(with_parent, needs_cleaning(response.content))
                yield from self._emit(items, rejected, stats)
                for value in request.done:
                    if value not in gone:  # one of a batch's windows skipped: its days are not all here
                        fetched_through[value] = self.config.today.isoformat()

    def _report_requests(
        self, endpoint: Endpoint, parents: list[dict[str, Any]] | None, fetched_through: dict[str, str]
    ) -> Iterator["ReportRequest"]:
        full_range = self._date_params(endpoint, self.config.start_date.date(), self.config.today)
        if endpoint.fan_out is None:
            yield ReportRequest(full_range)
            return
        fan_out = endpoint.fan_out
        if endpoint.strategy is not Strategy.DAILY:
            for value in _parent_values(parents or [], fan_out.parent_field):
                params, path = _parent_request(endpoint, value)
                yield ReportRequest({**full_range, **params}, value, [value], path=path)
            return
        by_first_day: dict[date, list[str]] = {}
        for parent in parents or []:
            value = parent.get(fan_out.parent_field)
            if value:
                last = fetched_through.get(value)
                first = dates.first_day(
                    date.fromisoformat(last) if last else None,
                    _created_day(parent),
                    self.config.start_date.date(),
                    self.config.trailing_days,
                )
                by_first_day.setdefault(first, []).append(value)
        for first, values in sorted(by_first_day.items()):
            for batch in dates.chunks(values, fan_out.batch):
                spans = list(dates.windows(first, self.config.today, endpoint.dates.max_days))
                for index, (window_start, window_end) in enumerate(spans):
                    param_value = batch if fan_out.batch > 1 else batch[0]
                    done = batch if index == len(spans) - 1 else []
                    column_value = None if fan_out.batch > 1 else batch[0]
                    params = {
                        **self._date_params(endpoint, window_start, window_end),
                        fan_out.param: param_value,
                    }
                    yield ReportRequest(params, column_value, batch, done)

    @staticmethod
    def _date_params(endpoint: Endpoint, start: date, end: date) -> dict[str, str]:
        if endpoint.dates is None:
            return {}
        return {endpoint.dates.start_param: start.isoformat(), endpoint.dates.end_param: end.isoformat()}

    # --- shared ---------------------------------------------------------------------------------------

    @contextmanager
    def tracking(
        self,
        endpoint: Endpoint,
        stats: ResourceStats,
        on_skip: Callable[[], None] | None = None,
        on_fail: Callable[[], None] | None = None,
    ):
        """Times the resource's work for the run report, and keeps a failure to its resource.

        A 403 (the key lacks this endpoint's scope) skips the resource with a warning; a 402 from a paid
        add-on's endpoint (`Endpoint.add_on`) skips it as not in the workspace's plan, which is no failure.
        Any other failure (a fault that outlasted its retries, a 4xx, an answer we cannot use, a bug of ours)
        fails this resource alone: what it yielded so far lands with the cursor stored before it, so the
        next run resumes there, and every other resource goes on. 401 and any other 402 (the key, the plan)
        concern every resource and stop the run.
        """
        stats.started()
        try:
            yield
        except AuthError as exc:
            if exc.status == 403:
                stats.skipped = exc.detail
                logger.warning("skipping %s: %s", endpoint.name, exc.detail)
            elif exc.status == 402 and endpoint.add_on:
                stats.not_in_plan = exc.detail
                logger.info("skipping %s: %s", endpoint.name, exc.detail)
            else:
                raise
            if on_skip:
                on_skip()
        except Exception as exc:
            stats.failed = self._describe(exc)
            stats.failure = exc.with_traceback(None)  # no frames kept: they would hold the walk's pages
            logger.info("%s failed, the other resources go on: %s", endpoint.name, stats.failed)
            if on_fail:
                on_fail()
        finally:
            stats.finished()

    @staticmethod
    @contextmanager
    def parents_gone_skipped(stats: ResourceStats, parents: list[str], gone: set[str]):
        """A fan-out request about `parents` answered 404: they were deleted after the parent list was read.
        They join `gone`, skipped (counted once in the report), and the resource goes on. A 404 naming the
        route (`Route GET:/api/v2/... not found`) means the endpoint itself is gone, which is a failure."""
        try:
            yield
        except ApiError as exc:
            if not parents or exc.status != 404 or exc.detail.startswith(settings.ROUTE_NOT_FOUND):
                raise
            stats.parents_skipped += len(set(parents) - gone)
            gone.update(parents)

    def _describe(self, exc: Exception) -> str:
        text = str(exc) if isinstance(exc, InstantlyError) else f"{type(exc).__name__}: {exc}"
        text = " ".join(text.split())
        return text.replace(self.config.api_key, "***") if self.config.api_key else text

    def _emit(
        self,
        rows: list[dict[str, Any]],
        rejected: list[dict[str, Any]],
        stats: ResourceStats,
        batches: "Batches | None" = None,
    ) -> Iterator[Any]:
        stats.rows_kept += len(rows)
        stats.rejected += len(rejected)
        tags = self.config.workspace_columns
        if tags:
            for row in (*rows, *rejected):
                row.update(tags)
        if rejected:
            yield rejected_rows(rejected, key=(*tags, "rejected_id"))
        if batches:
            yield from batches.add(rows)
        elif rows:
            yield rows


class Batches:
    """Gathers a walk's items into batches for dlt: Arrow tables (`arrow_rows`) where the fast path is on
    and a batch can be represented, else the dicts. dlt's cost per yielded item is paid once per batch.

    The newest batch is held back until the next one is built or the walk ends, so the walk's last batch
    can carry hints that only its end decides (`close`).
    """

    def __init__(self, tables: ArrowTables | None, stats: ResourceStats | None = None):
        self.tables = tables
        self.stats = stats or ResourceStats()
        self.pending: list[dict[str, Any]] = []
        self.held: tuple[Any, dict[str, Any]] | None = None  # a batch and the columns dlt must be told

    def add(self, items: list[dict[str, Any]]) -> Iterator[Any]:
        self.pending.extend(items)
        if len(self.pending) >= settings.ARROW_BATCH_ITEMS:
            yield from self._build_pending()

    def close(self, table_hints: dict[str, Any] | None = None) -> Iterator[Any]:
        """Yield what is left; the last batch carries `table_hints` for the walk's table."""
        yield from self._build_pending()
        if self.held is not None:
            (batch, columns), self.held = self.held, None
            yield _with_hints(batch, columns, table_hints)

    def _build_pending(self) -> Iterator[Any]:
        items, self.pending = self.pending, []
        if not items:
            return
        built = self.tables.build(items) if self.tables else (items, {})
        if isinstance(built[0], pa.Table):
            self.stats.arrow_batches += 1
        else:
            self.stats.dict_batches += 1
        if self.held is not None:
            yield _with_hints(*self.held)
        self.held = built


def _with_hints(batch: Any, columns: dict[str, Any], table_hints: dict[str, Any] | None = None) -> Any:
    if not columns and not table_hints:
        return batch
    hints = dlt.mark.make_hints(columns=columns or None, additional_table_hints=table_hints)
    return dlt.mark.with_hints(batch, hints)


@dataclass(frozen=True)
class ReportRequest:
    """One report request: its parameters, the value for the parent column of its rows (one parent), the
    parent values it asks about, those whose every day is fetched once it is answered, and its path."""

    params: dict[str, Any]
    column_value: Any = None
    parents: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    path: str | None = None  # the endpoint's path with the parent's value in its placeholder


def _restore(state: dict[str, Any], snapshot: dict[str, Any]) -> None:
    state.clear()
    state.update(copy.deepcopy(snapshot))


def _parent_values(parents: list[dict[str, Any]], parent_field: str) -> list[str]:
    """The parents' values, each once (parents may share one: the accounts' tracking domain)."""
    return list(dict.fromkeys(parent[parent_field] for parent in parents if parent.get(parent_field)))


def _parent_request(endpoint: Endpoint, value: str) -> tuple[dict[str, Any], str]:
    """Query parameters and path for one parent: the value goes in its parameter or the path placeholder."""
    fan_out = endpoint.fan_out
    if fan_out.param:
        return {fan_out.param: value}, endpoint.path
    placeholder = endpoint.path[endpoint.path.index("{") : endpoint.path.index("}") + 1]
    return {}, endpoint.path.replace(placeholder, value)


def _with_column(rows: list[Any], column: str | None, value: Any) -> list[Any]:
    if not column or value is None:
        return rows
    return [{**row, column: value} if isinstance(row, dict) else row for row in rows]


def _created_day(parent: dict[str, Any]) -> date | None:
    created = parse_time(parent.get("timestamp_created"))
    return created.date() if created else None
