"""The simulator: keys, request log, faults and rate limits in front of the worlds' data.

Order of checks for every request, as the real stack does it: edge proxy (no ``User-Agent`` -> HTML
403), routing (404), key (401), paid plan and its add-ons (402), scope (403), injected faults, workspace
rate limits (429), parameter validation (400), then the answer. Every response has a ``Date`` from the
world clock, a ``Content-Length`` and (except the edge page) a JSON content type.
"""

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .endpoints import Endpoint, route
from .errors import ApiError, error_body, reason
from .faults import Fault, Faults
from .limits import Limiter, RateLimits
from .prefetch import PageCache, Prefetcher, build_page
from .registry import ADD_ONS, ROUTES, Entity, operation_scopes
from .transport import HttpServer, Response
from .validate import body_params, query_params
from .world import World
from .writes import WRITES
from .writes import route as write_route

EDGE_403 = (
    b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    b"<center><h1>403 Forbidden</h1></center>\r\n"
    b"<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)
ERROR_200 = {"error": "ACC_AUTH_ERROR"}
_NOT_JSON = "Body is not valid JSON but content-type is set to 'application/json'"
PAGE_CACHE_PATH = "/_simulator/page-cache"
"""With ``cache_pages``: ``GET`` it for the cache's hit and miss counts (JSON; not an API route)."""


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it. Never holds the API key or any header value but the UA."""

    method: str
    path: str
    query: dict[str, Any]
    """Query parameters; one given more than once holds the list of its values."""
    body: Any
    status: int
    """The status sent; 0 when the connection was dropped without an answer."""
    time: float
    """Real unix time when the request arrived."""
    workspace: str | None
    fault: str | None = None
    user_agent: str | None = None


class _InvalidJson:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID_JSON"


INVALID_JSON: Any = _InvalidJson()


def parse_body(raw: bytes) -> Any:
    """The request's JSON body: None when empty, ``INVALID_JSON`` when it does not parse."""
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return INVALID_JSON


@dataclass
class _Grant:
    world: World
    scopes: frozenset[str]


class Simulator:
    """A local Instantly API v2 over real HTTP, backed by one or more ``World``s (one per key).

    ``scopes`` are the first key's scopes; ``rate_limits`` None means unlimited; ``port`` 0 picks a free
    port (see ``base_url``); ``prefetch`` builds the next page of a walk in the background while the
    client reads the current one (same bytes, dropped if the world changed in between); ``cache_pages``
    (benchmarks) keeps every page body built and serves it again for an identical request while the world
    is unchanged (``PageCache``; its counts at ``GET /_simulator/page-cache``).
    """

    def __init__(
        self,
        world: World,
        api_key: str = "sim-key",
        scopes: tuple[str, ...] = ("all:read",),
        rate_limits: RateLimits | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        prefetch: bool = True,
        cache_pages: bool = False,
    ) -> None:
        self.world = world
        self.api_key = api_key
        self.host = host
        self._port = port
        self._keys: dict[str, _Grant] = {}
        self.add_key(api_key, world, scopes)
        self.rate_limits = rate_limits
        self.limiter = Limiter(rate_limits) if rate_limits else None
        self.faults = Faults()
        self._records: list[RequestRecord] = []
        self._records_lock = threading.Lock()
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._scopes_cache: dict[tuple[str, str], frozenset[str]] = {}
        self._prefetch_enabled = prefetch
        self._prefetch: Prefetcher | None = None
        self.page_cache = PageCache() if cache_pages else None

    # ---------------------------------------------------------------------------------------- setup
    def add_key(
        self, api_key: str, world: World | None = None, scopes: tuple[str, ...] = ("all:read",)
    ) -> None:
        """Accept ``api_key`` for ``world`` (default: the first world) with these scopes."""
        self._keys[api_key] = _Grant(world or self.world, frozenset(scopes))

    def revoke_key(self, api_key: str) -> None:
        self._keys.pop(api_key, None)

    def start(self) -> "Simulator":
        if self._server is not None:
            return self
        self._prefetch = Prefetcher() if self._prefetch_enabled else None
        self._server = HttpServer((self.host, self._port), self.handle)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="instantly-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._prefetch is not None:
            self._prefetch.close()
            self._prefetch = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------------------------- records
    @property
    def requests(self) -> list[RequestRecord]:
        with self._records_lock:
            return list(self._records)

    def requests_to(self, path: str) -> list[RequestRecord]:
        with self._records_lock:
            return [record for record in self._records if record.path == path]

    def reset_requests(self) -> None:
        with self._records_lock:
            self._records.clear()

    def _record(self, record: RequestRecord) -> None:
        with self._records_lock:
            self._records.append(record)

    # ------------------------------------------------------------------------------------ answering
    def _scopes(self, method: str, path: str) -> frozenset[str]:
        found = self._scopes_cache.get((method, path))
        if found is None:
            found = self._scopes_cache[(method, path)] = operation_scopes(path, method)
        return found

    def handle(self, method: str, target: str, headers: dict[str, str], raw_body: bytes) -> Response:
        """Answer one request (``headers`` with lower-case names) and log it before it is sent, so a
        client that got its answer always finds its request in ``requests``."""
        arrived = time.time()
        body = parse_body(raw_body)
        path, _, query_string = target.partition("?")
        if self.page_cache is not None and method == "GET" and path == PAGE_CACHE_PATH:
            return Response(200, orjson.dumps(self.page_cache.stats()))
        query = parse_query(query_string)
        response, world = self.respond(method, path, query, body, headers)
        response.clock = (world or self.world).now
        self._record(
            RequestRecord(
                method=method,
                path=path,
                query=query,
                body=raw_body.decode("utf-8", "replace") if body is INVALID_JSON else body,
                status=response.status,
                time=arrived,
                workspace=world.name if world else None,
                fault=response.fault,
                user_agent=headers.get("user-agent"),
            )
        )
        return response

    def respond(
        self, method: str, path: str, query: dict[str, Any], body: Any, headers: dict[str, str]
    ) -> tuple[Response, World | None]:
        """The answer to one request and the workspace it was for (None before the key is known).

        ``body`` is the parsed JSON body, None, or ``INVALID_JSON``.
        """
        if not headers.get("user-agent"):
            return Response(403, EDGE_403, "text/html"), None
        entity = ROUTES.get((method, path))
        other = (route(method, path) or write_route(method, path)) if entity is None else None
        if entity is None and other is None:
            return _error(404, f"Route {method}:{path} not found"), None
        spec_path = other[0].path if other is not None else path
        authorization = headers.get("authorization")
        if not authorization:
            return _error(401, "Missing Authorization header"), None
        scheme, _, key = authorization.partition(" ")
        grant = self._keys.get(key.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            return _error(401, "Invalid API key"), None
        world = grant.world
        if not world.plan_active or any(spec_path in ADD_ONS[name] for name in world.missing_add_ons):
            return _error(402, "Workspace does not have an active paid plan"), world
        needed = self._scopes(method, spec_path)
        if needed and not needed & grant.scopes:
            scopes = ", ".join(sorted(needed))
            return _error(403, f"API key is missing a required scope; requires one of: {scopes}"), world
        cursor = sent_cursor(query, body)
        fault = self.faults.pick(method, path, has_cursor=cursor is not None)
        if fault is not None and fault.kind in ("status", "rate_limit", "drop", "reject_cursor"):
            return _fault_response(fault, cursor), world
        if self.limiter is not None:
            wait = self.limiter.admit(world, entity.rate_bucket if entity else None)
            if wait is not None:
                retry = self.limiter.limits.retry_after
                extra = {"Retry-After": self.limiter.retry_after(wait)} if retry else {}
                return _error(429, "Rate limit exceeded", extra), world
        try:
            response = Response(200, self._answer(world, entity, method, path, query, body, fault, other))
        except ApiError as error:
            response = _error(error.status, error.message, error.headers)
        if fault is not None:
            _mangle(response, fault, cursor)
        return response, world

    def _answer(
        self,
        world: World,
        entity: Entity | None,
        method: str,
        path: str,
        query: dict[str, Any],
        body: Any,
        fault: Fault | None,
        other: tuple[Endpoint, dict[str, str]] | None = None,
    ) -> bytes:
        if entity is None:
            assert other is not None
            endpoint, path_params = other
            if endpoint in WRITES:  # a create or update: the body is what it writes
                if body is INVALID_JSON:
                    raise ApiError(400, _NOT_JSON)
                with world._lock:
                    return orjson.dumps(endpoint.answer(world, body, path_params))
            params = query_params(endpoint.path, method, query)
            with world._lock:
                return orjson.dumps(endpoint.answer(world, params, path_params))
        if entity.params_in == "body":
            if body is INVALID_JSON:
                raise ApiError(400, _NOT_JSON)
            params = body_params(path, method, body)
        else:
            params = query_params(path, method, query)
        if not entity.paginated:
            return orjson.dumps(world.items(entity.name))
        if fault is not None and fault.kind == "repeat_item":
            return build_page(world, entity.name, params, repeat_item=True)[1]
        cache = self.page_cache
        built = cache.get(world, entity.name, params) if cache is not None else None
        if built is not None:  # served before, unchanged: the next page is cached too or built on demand
            return built[1]
        built = self._prefetch.take(world, entity.name, params) if self._prefetch else None
        if built is None:
            built = build_page(world, entity.name, params)
        if cache is not None:
            cache.put(world, entity.name, params, built)
        _, page, cursor = built
        if cursor is not None and self._prefetch is not None:
            self._prefetch.schedule(world, entity.name, {**params, "starting_after": cursor})
        return page


def parse_query(query_string: str) -> dict[str, Any]:
    """The query string as a dict: a parameter given more than once is a list of its values."""
    query: dict[str, Any] = {}
    if not query_string:
        return query
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        if name in query:
            previous = query[name]
            query[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            query[name] = value
    return query


def sent_cursor(query: dict[str, Any], body: Any) -> str | None:
    """The ``starting_after`` a request carries (query string, or JSON body for POST lists), if any."""
    cursor = body.get("starting_after") if isinstance(body, dict) else None
    cursor = cursor or query.get("starting_after")
    return str(cursor) if cursor not in (None, "") else None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, error_body(status, message), headers=dict(headers or {}))


def _fault_response(fault: Fault, cursor: str | None) -> Response:
    if fault.kind == "drop":
        return Response(0, b"", action="drop", fault=fault.kind)
    status = fault.status or 500
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if isinstance(fault.body, str):
        message = fault.body
    elif fault.kind == "reject_cursor":
        message = f"Invalid starting_after value: {str(cursor)[:100]!r}"
    elif status == 429:
        message = "Rate limit exceeded"
    else:
        message = f"{reason(status)} (simulated fault)"
    response = _error(status, message, headers)
    response.fault = fault.kind
    return response


def _mangle(response: Response, fault: Fault, cursor: str | None) -> None:
    """Apply a fault that changes an otherwise normal answer (``cursor``: the one the request sent)."""
    response.fault = fault.kind
    if fault.kind == "slow":
        response.delay = fault.delay
        response.released = fault.released
    elif fault.kind == "truncate":
        response.action = "truncate"
    elif fault.kind == "invalid_json":
        response.status = 200
        response.body = b'{"items": [{"id": "0199' + b"\x00<html>upstream reset</html>"
    elif fault.kind == "error_200":
        response.status = 200
        response.body = orjson.dumps(fault.body if fault.body is not None else ERROR_200)
    elif fault.kind == "rewrite" and response.status == 200:
        response.body = fault.body(response.body)
    elif fault.kind in ("empty_page", "stuck_cursor") and response.status == 200:
        page = orjson.loads(response.body)
        if fault.kind == "empty_page":
            page["items"] = []
        page["next_starting_after"] = cursor
        response.body = orjson.dumps(page)


def serve(
    port: int = 8787,
    seed: int = 1,
    sizes: dict[str, int] | None = None,
    rate_limits: RateLimits | bool | None = True,
    api_key: str = "sim-key",
    *,
    host: str = "127.0.0.1",
    scopes: tuple[str, ...] = ("all:read",),
    churn: dict[str, tuple[int, int]] | None = None,
    messy: bool = False,
    missing_add_ons: tuple[str, ...] = (),
    cache_pages: bool = False,
) -> None:
    """Serve a world until Ctrl-C, after printing one line with the base URL and the key. ``churn``: per
    entity, how many items are deleted and changed before serving (`World.churn`); ``messy``: leads as real
    workspaces hold them (`World(messy=True)`); ``missing_add_ons``: paid add-ons the plan lacks (402);
    ``cache_pages``: keep and serve again every page built (benchmarks; `Simulator(cache_pages=True)`)."""
    if rate_limits is True:
        rate_limits = RateLimits()
    world = World(seed=seed, sizes=sizes, messy=messy, missing_add_ons=missing_add_ons)
    for entity, (deleted, changed) in (churn or {}).items():
        world.churn(entity, deleted, changed)
    simulator = Simulator(
        world,
        api_key=api_key,
        scopes=scopes,
        rate_limits=rate_limits or None,
        port=port,
        host=host,
        cache_pages=cache_pages,
    )
    simulator.start()
    print(f"Instantly API simulator at {simulator.base_url} (API key: {api_key})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
