"""Injected failures: what the real API and its edge sometimes do, on demand.

A ``Fault`` matches requests by path (exact, ``None`` for any, or a shell pattern: ``*`` stands for any
text, slashes included, as in ``/api/v2/campaigns/*/sending-status``) and optionally method. Matching
requests are counted; the first ``after_requests`` are spared, then the fault fires on ``times`` requests
(or with ``probability``, from a seeded RNG; neither means every request).
When several faults match, the first one added that fires wins.

Kinds: ``status`` (error body with ``status``, default 500), ``rate_limit`` (429, optional ``Retry-After``),
``slow`` (answer normally after ``delay`` seconds, or as soon as the test calls ``release()`` or
``Faults.clear()``: a long delay holds a sync mid-walk for as long as a test needs, on any machine), ``drop``
(close the connection without a response), ``truncate`` (headers and half the body, then close),
``invalid_json`` (200 with a body that is not JSON), ``error_200`` (200 with ``{"error": "ACC_AUTH_ERROR"}``
or ``body``), ``repeat_item`` (the page starts with the previous page's last item again), ``rewrite`` (the
normal answer's body bytes passed through ``body``, a callable: bad data the generator never makes, such as
items without their key or JSON text with lone UTF-16 surrogates).
"""

import fnmatch
import random
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "status",
    "rate_limit",
    "slow",
    "drop",
    "truncate",
    "invalid_json",
    "error_200",
    "repeat_item",
    "rewrite",
    "empty_page",
    "stuck_cursor",
    "reject_cursor",
)
CURSOR_KINDS = frozenset({"empty_page", "stuck_cursor", "reject_cursor"})


@dataclass
class Fault:
    """One injected failure; see the module docstring for the kinds. ``status`` defaults to 500 (429 for
    ``rate_limit``), ``delay`` to 1 s for ``slow``; ``retry_after`` adds that ``Retry-After`` header;
    ``body`` replaces the ``error_200`` body (for ``rewrite``: a callable from the answer's bytes to new
    bytes; for ``status``, a string: the error body's ``message``). ``seen`` / ``fired`` count matching
    requests and firings."""

    path: str | None = None
    kind: str = "status"
    times: int | None = None
    probability: float | None = None
    status: int | None = None
    delay: float = 0.0
    retry_after: int | float | None = None
    after_requests: int = 0
    method: str | None = None
    body: Any = None
    seed: int = 0
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        if self.status is None:
            self.status = {"rate_limit": 429, "reject_cursor": 400}.get(self.kind, 500)
        if self.kind == "slow" and not self.delay:
            self.delay = 1.0
        self.reset()

    def reset(self) -> None:
        """Forget the requests seen so far (``Faults.add`` does this, so a ``Fault`` can be reused)."""
        self.seen = 0
        self.fired = 0
        self._rng = random.Random(self.seed)
        self.released = threading.Event()

    def release(self) -> None:
        """Let the answers a ``slow`` fault keeps waiting (and any it slows later) go at once."""
        self.released.set()

    def matches(self, method: str, path: str, has_cursor: bool = False) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.kind in CURSOR_KINDS and not has_cursor:
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)

    def _fires(self) -> bool:
        self.seen += 1
        if self.seen <= self.after_requests:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        if self.probability is not None and self._rng.random() >= self.probability:
            return False
        self.fired += 1
        return True

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


class Faults:
    """The simulator's active faults (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Activate ``fault`` with fresh counters; returns it (its ``seen`` / ``fired`` are live)."""
        with self._lock:
            fault.reset()
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Deactivate every fault, releasing the answers a ``slow`` one keeps waiting."""
        with self._lock:
            for fault in self._faults:
                fault.release()
            self._faults.clear()

    def __iter__(self):  # noqa: ANN204 - a snapshot for inspection
        with self._lock:
            return iter(list(self._faults))

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)

    def pick(self, method: str, path: str, has_cursor: bool = False) -> Fault | None:
        """The fault that fires for this request, if any (counts the request for every matching fault
        up to and including the one that fires). ``has_cursor``: the request carries ``starting_after``."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, has_cursor) and fault._fires():
                    return fault
        return None
