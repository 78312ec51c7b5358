"""Client-side pacing: sliding-window limits matching the server's, shared by every request of a workspace.

The API rarely sends Retry-After, so waiting for 429s is not a strategy: we count our own requests in the
same windows the server counts them and wait before sending the one that would exceed a limit.
"""

import hashlib
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
    """Blocks `acquire()` until one more request fits in every window. Thread-safe."""

    def __init__(self, windows: list[Window], margin_seconds: float = settings.RATE_WINDOW_MARGIN_SECONDS):
        # (limit, window length, send times inside the window), oldest first
        self._windows = [
            (w.max_requests, w.seconds + margin_seconds * (w.seconds >= 1), deque())
            for w in windows
            if w.max_requests > 0
        ]
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a free slot, record the request, and return how long we waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                delay = 0.0
                for max_requests, seconds, sent in self._windows:
                    while sent and now - sent[0] >= seconds:
                        sent.popleft()
                    if len(sent) >= max_requests:
                        delay = max(delay, sent[0] + seconds - now)
                if delay <= 0:
                    for _, _, sent in self._windows:
                        sent.append(now)
                    return waited
            time.sleep(delay)
            waited += delay


@dataclass(frozen=True)
class RateLimits:
    requests_per_second: int = settings.WORKSPACE_REQUESTS_PER_SECOND
    requests_per_minute: int = settings.WORKSPACE_REQUESTS_PER_MINUTE
    emails_requests_per_minute: int = settings.EMAILS_REQUESTS_PER_MINUTE


class WorkspaceLimiter:
    """The limiters of one workspace: the workspace-wide one, and one per stricter endpoint class."""

    def __init__(self, limits: RateLimits):
        self.workspace = SlidingWindowLimiter(
            [Window(limits.requests_per_second, 1.0), Window(limits.requests_per_minute, 60.0)]
        )
        self.emails = SlidingWindowLimiter([Window(limits.emails_requests_per_minute, 60.0)])


_registry: dict[tuple[str, RateLimits], WorkspaceLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(base_url: str, api_key: str, limits: RateLimits) -> WorkspaceLimiter:
    """One limiter per workspace and process: every source built for the same key shares it.

    Only a hash of the key is kept, so the key never sits in a long-lived structure.
    """
    fingerprint = hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()
    with _registry_lock:
        return _registry.setdefault((fingerprint, limits), WorkspaceLimiter(limits))
