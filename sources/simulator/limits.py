"""Workspace rate limits: sliding windows shared by every key of a workspace.

The API allows 100 requests per second and 6,000 per minute per workspace, and ``GET /api/v2/emails``
20 per minute on top. A request over any limit is answered 429 and is not counted. ``time_scale``
shrinks the windows (60 means a minute of API time passes in one real second).
"""

import math
import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimits:
    per_second: int = 100
    per_minute: int = 6000
    emails_per_minute: int = 20
    time_scale: float = 1.0
    retry_after: bool = False
    """Send ``Retry-After`` (API seconds: real seconds times ``time_scale``, rounded up) with a 429; the API
    usually sends none."""


class _Window:
    __slots__ = ("limit", "length", "stamps")

    def __init__(self, limit: int, length: float) -> None:
        self.limit = limit
        self.length = length
        self.stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        """0 when a request fits now, else the seconds until the oldest counted request expires."""
        stamps = self.stamps
        while stamps and stamps[0] <= now - self.length:
            stamps.popleft()
        if len(stamps) < self.limit:
            return 0.0
        return stamps[len(stamps) - self.limit] + self.length - now


class Limiter:
    """Admits or refuses requests per workspace; thread-safe."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._windows: dict[tuple[object, str], list[_Window]] = {}

    def _for(self, workspace: object, bucket: str | None) -> list[_Window]:
        scale = self.limits.time_scale
        general = self._windows.get((workspace, ""))
        if general is None:
            general = [
                _Window(self.limits.per_second, 1.0 / scale),
                _Window(self.limits.per_minute, 60.0 / scale),
            ]
            self._windows[(workspace, "")] = general
        if bucket is None:
            return general
        extra = self._windows.get((workspace, bucket))
        if extra is None:
            extra = [_Window(getattr(self.limits, f"{bucket}_per_minute"), 60.0 / scale)]
            self._windows[(workspace, bucket)] = extra
        return general + extra

    def admit(self, workspace: object, bucket: str | None = None) -> float | None:
        """None when the request is admitted (and counted); else seconds to wait (real time)."""
        with self._lock:
            now = time.monotonic()
            windows = self._for(workspace, bucket)
            wait = max(window.wait(now) for window in windows)
            if wait > 0:
                return wait
            for window in windows:
                window.stamps.append(now)
            return None

    def retry_after(self, wait: float) -> str:
        """`wait` (real seconds) in API seconds, as the API would say it: a client scaling time like the
        simulator (rate_time_scale) waits the same real time."""
        return str(max(1, math.ceil(wait * self.limits.time_scale)))
