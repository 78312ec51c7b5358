"""The client paces itself inside the server's windows: no 429s, never more than the configured rate."""

import threading
import time

from sources.instantly.ratelimit import SlidingWindowLimiter, Window
from sources.simulator import RateLimits, Simulator, World

from .conftest import duckdb_warehouse_for


def _max_in_any_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_limiter_shared_by_threads_never_exceeds_its_window():
    limiter = SlidingWindowLimiter([Window(8, 0.5)], margin_seconds=0)
    sent: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            limiter.acquire()
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent) == 40
    assert _max_in_any_window(sent, 0.5) <= 8


def test_sync_against_a_rate_limited_simulator_gets_no_429(tmp_path):
    world = World(
        seed=2, sizes={"campaigns": 2, "accounts": 3, "leads": 2500, "emails": 450, "audit_logs": 10}
    )
    limits = RateLimits(per_second=10, per_minute=6000, emails_per_minute=240)
    with Simulator(world, rate_limits=limits) as simulator:
        warehouse = duckdb_warehouse_for(tmp_path, simulator)
        warehouse.sync(
            resources=["campaigns", "accounts", "leads", "emails", "audit_logs"],
            max_requests_per_second=10,
            emails_requests_per_minute=240,
        )
        statuses = [r.status for r in simulator.requests]
        served = [r.time for r in simulator.requests]
    assert 429 not in statuses
    assert len(statuses) == 34  # leads 25 full pages + the empty one, emails 5, three single pages
    assert warehouse.count("leads") == 2500
    assert _max_in_any_window(served, 1.0) <= 10
