"""Client-side pacing: sliding-window limits matching the server's, shared by every request of a workspace.

The API rarely sends Retry-After, so waiting for 429s is not a strategy: we count our own requests in the
same windows the server counts them and wait before sending the one that would exceed a limit.

A 429 still happens when another integration spends the same workspace budget. Each limiter class
(the workspace, `GET /emails`) then adapts for every request of that class at once, not just the one
that failed: Retry-After pauses the class for that long; a 429 without it cuts the class's rate
(multiplicative decrease), and successful requests bring it back linearly to the configured rate
(additive increase).
"""

import hashlib
import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from . import settings


@dataclass(frozen=True)
class Window:
    max_requests: int
    seconds: float


class SlidingWindowLimiter:
    """Blocks `acquire()` until one more request fits in every window at the current rate. Thread-safe.

    A request occupies its slot from `acquire()` and counts in the windows from when the server may have
    seen it at the latest: its answer (or failure), less the margin. So neither a slow connect nor jitter
    makes the server count more requests in its window than we counted in ours, and a fast answer costs
    nothing. `margin` lengthens each window by that fraction. `time_scale` divides window lengths and pauses
    (60: an API minute lasts one second; for tests and benchmarks against a simulator running as fast).
    """

    def __init__(
        self,
        windows: list[Window],
        margin: float = settings.RATE_WINDOW_MARGIN,
        time_scale: float = 1.0,
    ):
        # (limit, window length, margin, counted times oldest first), lengths in real seconds
        self._windows = [
            (w.max_requests, w.seconds * (1 + margin) / time_scale, w.seconds * margin / time_scale, deque())
            for w in windows
            if w.max_requests > 0
        ]
        self._time_scale = time_scale
        self._changed = threading.Condition()
        self._in_flight = 0
        self.rate = 1.0  # fraction of the configured limits allowed now
        self._paused_until = 0.0
        self._cut_at = float("-inf")  # when `rate` was last cut
        self._changed_at = 0.0  # when `rate` was last cut or raised

    def acquire(self) -> float:
        """Wait for a free slot and take it; return how long we waited. Every `acquire()` needs a
        `release()`."""
        started = time.monotonic()
        with self._changed:
            while True:
                now = time.monotonic()
                delay = self._paused_until - now
                for max_requests, seconds, _, counted in self._windows:
                    while counted and now - counted[0] >= seconds:
                        counted.popleft()
                    # this many counted requests must leave the window before one more fits
                    over = len(counted) + self._in_flight - max(1, int(max_requests * self.rate)) + 1
                    if over > len(counted):
                        delay = math.inf  # requests in flight fill the window: wait for an answer
                    elif over > 0:
                        delay = max(delay, counted[over - 1] + seconds - now)
                if delay <= 0:
                    self._in_flight += 1
                    return time.monotonic() - started
                self._changed.wait(None if delay == math.inf else delay)

    def release(self, sent_at: float) -> None:
        """The request sent at `sent_at` (`time.monotonic()`) has its answer or failed: count it."""
        with self._changed:
            now = time.monotonic()
            self._in_flight -= 1
            for _, _, margin, counted in self._windows:
                moment = max(sent_at, now - margin)
                position = len(counted)
                while position and counted[position - 1] > moment:  # keep the times in order
                    position -= 1
                counted.insert(position, moment)
            self._changed.notify_all()

    def pause(self, seconds: float) -> None:
        """Retry-After: hold every request of this class for `seconds` of API time."""
        with self._changed:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds / self._time_scale)
            self._changed.notify_all()

    def slow_down(self, sent_at: float) -> None:
        """A 429 without Retry-After for a request sent at `sent_at` (`time.monotonic()`): cut the rate.

        Requests sent before the last cut were paced at the old rate; their 429s are the same congestion
        and do not cut again.
        """
        with self._changed:
            if sent_at < self._cut_at:
                return
            self.rate = max(settings.RATE_MIN_FRACTION, self.rate * settings.RATE_DECREASE_FACTOR)
            self._cut_at = self._changed_at = time.monotonic()

    def succeeded(self) -> None:
        """A request of this class went through: regain rate in proportion to the API time since the last
        change."""
        if self.rate >= 1.0:
            return
        with self._changed:
            now = time.monotonic()
            api_minutes = (now - self._changed_at) * self._time_scale / 60
            self.rate = min(1.0, self.rate + settings.RATE_RECOVERY_PER_MINUTE * api_minutes)
            self._changed_at = now
            self._changed.notify_all()


@dataclass(frozen=True)
class RateLimits:
    requests_per_second: int = settings.WORKSPACE_REQUESTS_PER_SECOND
    requests_per_minute: int = settings.WORKSPACE_REQUESTS_PER_MINUTE
    emails_requests_per_minute: int = settings.EMAILS_REQUESTS_PER_MINUTE
    time_scale: float = settings.RATE_TIME_SCALE  # tests and benchmarks: 60 = an API minute per second


class WorkspaceLimiter:
    """The limiters of one workspace: the workspace-wide one, and one per stricter endpoint class."""

    def __init__(self, limits: RateLimits):
        scale = limits.time_scale
        self.workspace = SlidingWindowLimiter(
            [Window(limits.requests_per_second, 1.0), Window(limits.requests_per_minute, 60.0)],
            time_scale=scale,
        )
        self.emails = SlidingWindowLimiter(
            [Window(limits.emails_requests_per_minute, 60.0)], time_scale=scale
        )


_registry: dict[tuple[str, RateLimits], WorkspaceLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(base_url: str, api_key: str, limits: RateLimits) -> WorkspaceLimiter:
    """One limiter per workspace and process: every source built for the same key shares it.

    Only a hash of the key is kept, so the key never sits in a long-lived structure.
    """
    fingerprint = hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()
    with _registry_lock:
        return _registry.setdefault((fingerprint, limits), WorkspaceLimiter(limits))
