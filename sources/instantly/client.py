"""HTTP access to the Instantly API v2: auth, pacing, retries, error policy and cursor pagination.

Error policy: 429, 5xx, timeouts, dropped connections and unreadable bodies are transient and retried
with backoff (Retry-After honoured when present). A 429 also adapts the shared limiter (see
ratelimit.py): with Retry-After every request of its class pauses; without it the class slows down, then
recovers. 401/402/403 are the user's to fix and fail at once with what to change (a 402 from a paid
add-on's endpoint names the add-on). A 200 whose body is an
error object is an error, never "no data". Anything else fails with the status, the endpoint and a short
excerpt of the body. The API key is never part of a message.
"""

import email.utils
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from . import settings
from .endpoints import Endpoint, Pagination, RateClass
from .errors import ApiError, AuthError, RetriesExhausted
from .items import loads, needs_cleaning
from .progress import ResourceStats
from .ratelimit import WorkspaceLimiter

_EXCERPT_CHARS = 200


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = settings.MAX_ATTEMPTS
    backoff_base_seconds: float = settings.BACKOFF_BASE_SECONDS
    backoff_max_seconds: float = settings.BACKOFF_MAX_SECONDS
    timeout_seconds: float = settings.REQUEST_TIMEOUT_SECONDS

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max_seconds)
        backoff = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return backoff * random.uniform(0.8, 1.0)


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    server_time: datetime | None
    needs_cleaning: bool  # NUL, lone surrogates or huge numbers somewhere in the JSON text
    ended_early: bool = False  # the walk stops here although the API's cursor did not say it was done


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, rate_limited: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class InstantlyClient:
    """One HTTP connection pool; use as a context manager, one per resource walk."""

    def __init__(self, base_url: str, api_key: str, limiter: WorkspaceLimiter, retry: RetryPolicy):
        self._api_key = api_key
        self._limiter = limiter
        self._retry = retry
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": settings.USER_AGENT,
                "Accept": "application/json",
            },
            timeout=retry.timeout_seconds,
        )

    def __enter__(self) -> "InstantlyClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def paginate(
        self,
        endpoint: Endpoint,
        params: dict[str, Any],
        start_cursor: str | None,
        stats: ResourceStats,
        path: str | None = None,
    ) -> Iterator[Page]:
        """Follow `next_starting_after` from `start_cursor` to the end.

        A page without a cursor ends the walk. An odd page is asked for again (`settings.PAGE_REASKS`
        times, after a backoff pause each) before it is believed: an empty page that still carries a cursor
        (a hiccup mid-walk), and a cursor seen before, which would loop. One that stays odd ends the walk
        early (`Page.ended_early`) with a warning: what was fetched lands, and the walk does not count as
        complete.
        """
        cursor = start_cursor
        seen_cursors = {cursor} if cursor else set()
        while True:
            page = self._believable_page(endpoint, params, cursor, seen_cursors, stats, path)
            stats.pages += 1
            stats.rows_fetched += len(page.items)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor
            seen_cursors.add(cursor)

    def _believable_page(
        self,
        endpoint: Endpoint,
        params: dict[str, Any],
        cursor: str | None,
        seen_cursors: set[str],
        stats: ResourceStats,
        path: str | None,
    ) -> Page:
        answers = settings.PAGE_REASKS + 1
        for attempt in range(1, answers + 1):
            page = self.fetch_page(endpoint, params, cursor, stats, path)
            if page.next_cursor is None or (page.items and page.next_cursor not in seen_cursors):
                return page
            if attempt < answers:
                stats.retries += 1
                time.sleep(self._retry.delay(attempt, None))
        if page.items:
            odd = f"the cursor {cursor!r} did not advance in {answers} answers"
        else:
            odd = f"the page after {cursor!r} came back empty but with a cursor in {answers} answers"
        stats.warn(f"{odd}: the walk ended early with what it had fetched, and the next run walks again")
        page.next_cursor = None
        page.ended_early = True
        return page

    def fetch_page(
        self,
        endpoint: Endpoint,
        params: dict[str, Any],
        cursor: str | None,
        stats: ResourceStats,
        path: str | None = None,
    ) -> Page:
        fields = {**endpoint.params, **params}
        if endpoint.pagination is not Pagination.NONE:
            fields["limit"] = endpoint.page_size
        if cursor:
            fields["starting_after"] = cursor
        if endpoint.pagination is Pagination.BODY:
            response, body = self.request(endpoint, stats, json=fields, path=path)
        else:
            response, body = self.request(endpoint, stats, params=fields, path=path)
        field = endpoint.rows_in
        envelope = body if isinstance(body, dict) else {}
        items = body if field is None else envelope.get(field)
        if not isinstance(items, list):
            raise ApiError(
                self._label(endpoint), response.status_code, f"the answer has no `{field or 'array'}` list"
            )
        return Page(
            items=items,
            next_cursor=envelope.get("next_starting_after") or None,
            server_time=_server_time(response),
            needs_cleaning=needs_cleaning(response.content),
        )

    def request(
        self,
        endpoint: Endpoint,
        stats: ResourceStats,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        path: str | None = None,
    ) -> tuple[httpx.Response, Any]:
        """Send one request with pacing and retries; return the response and its decoded JSON body.

        `path` replaces the endpoint's path where it has a placeholder filled per parent item.
        """
        label = self._label(endpoint)
        # the class a 429 adapts: the endpoint's own stricter limit if it has one, else the workspace's
        limited = self._limiter.emails if endpoint.rate_class is RateClass.EMAILS else self._limiter.workspace
        classes = (
            [self._limiter.workspace]
            if limited is self._limiter.workspace
            else [limited, self._limiter.workspace]
        )
        for attempt in range(1, self._retry.max_attempts + 1):
            for limiter in classes:  # the stricter, longer wait first
                stats.seconds_waiting_for_rate_limit += limiter.acquire()
            stats.requests += 1
            sent_at = time.monotonic()
            try:
                answer = self._send(endpoint, label, path or endpoint.path, params, json)
            except _Transient as transient:
                failure = transient
            else:
                limited.succeeded()
                return answer
            finally:
                for limiter in classes:
                    limiter.release(sent_at)
            if attempt == self._retry.max_attempts:
                raise RetriesExhausted(
                    label, None, f"{self._scrub(str(failure))}; gave up after {attempt} attempts"
                ) from None
            stats.retries += 1
            if failure.rate_limited and failure.retry_after is not None:
                # the whole class waits, so concurrent resources do not storm; acquire() holds us too
                limited.pause(min(failure.retry_after, self._retry.backoff_max_seconds))
                continue
            if failure.rate_limited:
                limited.slow_down(sent_at)
            time.sleep(self._retry.delay(attempt, failure.retry_after))
        raise AssertionError("unreachable")

    def _send(
        self,
        endpoint: Endpoint,
        label: str,
        path: str,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None,
    ) -> tuple[httpx.Response, Any]:
        try:
            response = self._http.request(endpoint.method, path, params=params, json=json)
        except httpx.TransportError as exc:  # timeouts, refused/dropped connections, truncated bodies
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(
                f"HTTP {status}: {self._excerpt(response)}", _retry_after(response), status == 429
            )
        if status in (401, 402, 403):
            raise AuthError(label, status, self._auth_advice(endpoint, response))
        if status >= 400:
            raise ApiError(label, status, self._excerpt(response))
        try:
            body = loads(response.content)
        except ValueError:
            raise _Transient(f"HTTP {status} with a body that is not JSON") from None
        if isinstance(body, dict) and "error" in body and "items" not in body:
            # Some endpoints answer 200 with an error object: that is a failure, not an empty result.
            raise ApiError(label, status, f"answered with an error body: {self._scrub(str(body['error']))}")
        return response, body

    def _auth_advice(self, endpoint: Endpoint, response: httpx.Response) -> str:
        status = response.status_code
        if status == 401:
            return (
                "the API key was rejected. Set a valid key in SOURCES__INSTANTLY__API_KEY "
                "or `api_key` under [sources.instantly] in .dlt/secrets.toml"
            )
        if status == 402 and endpoint.add_on:
            return f"the workspace's plan does not include {endpoint.add_on}"
        if status == 402:
            return "the workspace has no active paid plan with API access"
        if "html" in response.headers.get("content-type", ""):
            return "blocked by the API's edge proxy (an HTML 403 page)"
        return f"the API key lacks the scope for this endpoint; it needs one of: {', '.join(endpoint.scopes)}"

    def _excerpt(self, response: httpx.Response) -> str:
        try:
            body = orjson.loads(response.content)
            text = body.get("message") or body.get("error") or response.text if isinstance(body, dict) else ""
        except orjson.JSONDecodeError:
            text = response.text
        return self._scrub(str(text or response.reason_phrase)[:_EXCERPT_CHARS])

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    @staticmethod
    def _label(endpoint: Endpoint) -> str:
        return f"{endpoint.method} {endpoint.path} ({endpoint.name})"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, (parsed - datetime.now(UTC)).total_seconds()) if parsed else None


def _server_time(response: httpx.Response) -> datetime | None:
    value = response.headers.get("date")
    try:
        return email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
