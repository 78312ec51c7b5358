"""Speculative next pages: while a client parses page N, page N+1 is built in the background; and, for
benchmarks, a cache of every page built (``PageCache``).

A client walking a list sends the cursor it was just given; building that page while the client is busy
parsing the previous one overlaps the two halves of the round trip. A prefetched page is used only when
the request asks for exactly the same (validated) parameters and the world has not changed since it was
built (``World.version``); it is byte-identical to the page built on demand.
"""

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson

from .world import World

_MAX_PENDING = 16

Built = tuple[int, bytes, str | None]
"""(world version, response body, next cursor)."""


def build_page(world: World, entity: str, params: dict[str, Any], repeat_item: bool = False) -> Built:
    with world._lock:
        page = world.page(entity, params, repeat_item=repeat_item)
        return world.version, orjson.dumps(page), page.get("next_starting_after")


class Prefetcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[tuple[int, str, bytes], Future[Built]] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulator-prefetch")

    @staticmethod
    def _key(world: World, entity: str, params: dict[str, Any]) -> tuple[int, str, bytes]:
        return id(world), entity, orjson.dumps(params, option=orjson.OPT_SORT_KEYS)

    def take(self, world: World, entity: str, params: dict[str, Any]) -> Built | None:
        """The page prefetched for exactly this request, if there is one and the world is unchanged."""
        with self._lock:
            future = self._futures.pop(self._key(world, entity, params), None)
        if future is None:
            return None
        try:
            built = future.result(timeout=30)
        except Exception:  # noqa: BLE001 - a failed guess is rebuilt on demand, which reports errors
            return None
        return built if built[0] == world.version else None

    def schedule(self, world: World, entity: str, params: dict[str, Any]) -> None:
        """Start building the page for ``params`` in the background."""
        key = self._key(world, entity, params)
        with self._lock:
            if key in self._futures:
                return
            while len(self._futures) >= _MAX_PENDING:
                self._futures.pop(next(iter(self._futures))).cancel()
            try:
                self._futures[key] = self._executor.submit(build_page, world, entity, params)
            except RuntimeError:  # shut down
                pass

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._futures.clear()


class PageCache:
    """Every page body built, kept and served again for an identical request while the world is unchanged
    (``Simulator(cache_pages=True)``, ``python -m sources.simulator --cache-pages``): for benchmarks, where
    building and encoding pages on demand would take CPU from the client under test (a real API spends
    none of the client's machine). Keyed as the prefetcher is; a page built for another ``World.version``
    is built again. Only the body is cached: keys, faults and rate limits still apply per request.
    ``hits`` / ``misses`` count lookups."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[tuple[int, str, bytes], Built] = {}
        self.hits = 0
        self.misses = 0

    def get(self, world: World, entity: str, params: dict[str, Any]) -> Built | None:
        key = Prefetcher._key(world, entity, params)
        with self._lock:
            built = self._pages.get(key)
            if built is not None and built[0] == world.version:
                self.hits += 1
                return built
            self.misses += 1
            return None

    def put(self, world: World, entity: str, params: dict[str, Any], built: Built) -> None:
        with self._lock:
            self._pages[Prefetcher._key(world, entity, params)] = built

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "pages": len(self._pages)}
