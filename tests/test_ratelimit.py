"""The client paces itself inside the server's windows, and adapts to the 429s it gets anyway.

Counts are taken as the simulator saw the requests (arrival times, every status), and the simulator and the
client run on the same compressed clock (`time_scale`, `rate_time_scale`), so an API minute takes a second
or two.
"""

import threading
import time

from sources.instantly.client import InstantlyClient, RetryPolicy
from sources.instantly.endpoints import ENDPOINTS_BY_NAME
from sources.instantly.progress import ResourceStats
from sources.instantly.ratelimit import RateLimits as ClientLimits
from sources.instantly.ratelimit import SlidingWindowLimiter, Window, WorkspaceLimiter
from sources.simulator import Fault, RateLimits, Simulator, World

from .conftest import duckdb_warehouse_for
from .killing import CORE_RESOURCES

EMAILS_PATH = "/api/v2/emails"
CAMPAIGNS_PATH = "/api/v2/campaigns"


def _max_in_any_window(times: list[float], seconds: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def _count_between(times: list[float], start: float, end: float) -> int:
    return sum(start <= moment < end for moment in times)


def test_limiter_shared_by_threads_never_exceeds_its_window():
    limiter = SlidingWindowLimiter([Window(8, 0.5)], margin=0)
    sent: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            limiter.acquire()
            sent_at = time.monotonic()
            with lock:
                sent.append(sent_at)
            limiter.release(sent_at)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent) == 40
    assert _max_in_any_window(sent, 0.5) <= 8


def test_sync_against_a_rate_limited_simulator_gets_no_429(tmp_path):
    warehouse, records = _sync_core_resources(
        tmp_path,
        World(seed=2, sizes={"campaigns": 2, "accounts": 3, "leads": 2500, "emails": 450, "audit_logs": 10}),
        RateLimits(per_second=10, per_minute=6000, emails_per_minute=240),
        max_requests_per_second=10,
        emails_requests_per_minute=240,
    )
    statuses = [r.status for r in records]
    served = [r.time for r in records]
    assert 429 not in statuses
    assert len(statuses) == 34  # leads 25 full pages + the empty one, emails 5, three single pages
    assert warehouse.count("leads") == 2500
    assert _max_in_any_window(served, 1.0) <= 10
    assert max(served) - min(served) >= 2.0  # 34 requests at 10/s: the per-second limit did bind


def test_concurrent_resources_stay_within_the_per_minute_and_emails_limits_on_a_scaled_clock(tmp_path):
    # an API minute lasts 2 s on both sides; per minute: 40 requests in all, 8 of them to /emails
    scale, minute = 30, 2.0
    warehouse, records = _sync_core_resources(
        tmp_path,
        World(seed=3, sizes={"campaigns": 2, "accounts": 3, "leads": 2500, "emails": 1600, "audit_logs": 10}),
        RateLimits(per_second=100, per_minute=40, emails_per_minute=8, time_scale=scale),
        max_requests_per_minute=40,
        emails_requests_per_minute=8,
        rate_time_scale=scale,
    )
    served = [r.time for r in records]
    emails = [r.time for r in records if r.path == EMAILS_PATH]
    assert [r.status for r in records if r.status != 200] == []
    assert len(served) == 46 and len(emails) == 17  # 26 leads pages, 17 emails pages, 3 others
    assert _max_in_any_window(served, minute) <= 40
    assert _max_in_any_window(emails, minute) <= 8
    assert max(emails) - min(emails) >= 2 * minute  # 17 requests at 8 a minute: two full minutes of waiting
    assert warehouse.count("emails") == 1600


def _sync_core_resources(tmp_path, world: World, limits: RateLimits, **source_args) -> tuple:
    """Sync the core resources from a simulator with `limits` into DuckDB; the warehouse and every request
    as the simulator saw it."""
    with Simulator(world, rate_limits=limits) as simulator:
        warehouse = duckdb_warehouse_for(tmp_path, simulator)
        warehouse.sync(resources=CORE_RESOURCES.split(","), **source_args)
        return warehouse, simulator.requests


def _client(simulator: Simulator, limiter: WorkspaceLimiter) -> InstantlyClient:
    retry = RetryPolicy(backoff_base_seconds=0.01)  # Retry-After is capped at backoff_max_seconds: keep it
    return InstantlyClient(simulator.base_url, simulator.api_key, limiter, retry)


def _hammer(
    simulator: Simulator,
    limiter: WorkspaceLimiter,
    names: list[str],
    seconds: float,
    after: Fault | None = None,
) -> None:
    """One thread per endpoint name, each fetching its first page over and over for `seconds`, counted from
    when `after` first fires if given (a slower machine reaches it later, and must still hammer past it).

    The clients are made before the clock starts and the threads start together: a thread still making its
    client while another hammers would leave one endpoint alone in the first window."""
    clients = [_client(simulator, limiter) for _ in names]
    deadline: list[float] = []
    # a fault that never fires still ends the hammering, and then the test's assertions fail
    first_deadline = seconds if after is None else 60.0
    start = threading.Barrier(len(names), action=lambda: deadline.append(time.monotonic() + first_deadline))

    def worker(name: str, client: InstantlyClient) -> None:
        endpoint = ENDPOINTS_BY_NAME[name]
        clock_started = after is None
        with client:
            start.wait()
            while time.monotonic() < deadline[0]:
                client.fetch_page(endpoint, {}, None, ResourceStats())
                if not clock_started and after.fired:
                    clock_started = True
                    deadline[0] = min(deadline[0], time.monotonic() + seconds)

    threads = [threading.Thread(target=worker, args=pair) for pair in zip(names, clients, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_429s_without_retry_after_slow_the_whole_class_down_then_it_recovers():
    # 60 requests per API minute = per real second; another integration's burst costs us two 429s in a row
    limits = ClientLimits(requests_per_second=1000, requests_per_minute=60, time_scale=60)
    limiter = WorkspaceLimiter(limits)
    with Simulator(World(seed=4, sizes={"campaigns": 3, "accounts": 3, "lead_lists": 3})) as simulator:
        simulator.faults.add(Fault(path=CAMPAIGNS_PATH, kind="rate_limit", after_requests=40, times=2))
        _hammer(simulator, limiter, ["campaigns", "accounts", "lead_lists"], seconds=6.5)
        records = simulator.requests
    times = [r.time for r in records]
    throttled = [r.time for r in records if r.status == 429]
    assert len(throttled) == 2
    assert _max_in_any_window(times, 1.0) <= 60
    # every endpoint slows down, not just the one that got the 429s; whole windows, since the client
    # sends in bursts a window apart
    full = _max_in_any_window([t for t in times if t < throttled[0]], 1.0)
    slowed = _count_between(times, throttled[0], throttled[0] + 2.0)
    recovered = _max_in_any_window([t for t in times if t >= throttled[-1] + 1.5], 1.0)
    figures = {"full": full, "two minutes after the first 429": slowed, "recovered": recovered}
    assert full >= 50, figures
    assert slowed <= 0.75 * 120, figures
    assert recovered >= 57, figures
    assert limiter.workspace.rate == 1.0


def test_retry_after_pauses_every_concurrent_request_of_its_class():
    # Retry-After: 30 (API seconds) on one campaigns request = 0.5 s real at 60x; nothing of the workspace
    # class may reach the server in that time, whichever endpoint it is for
    limiter = WorkspaceLimiter(ClientLimits(time_scale=60))
    with Simulator(World(seed=5, sizes={"campaigns": 3, "accounts": 3, "lead_lists": 3})) as simulator:
        throttle = simulator.faults.add(
            Fault(path=CAMPAIGNS_PATH, kind="rate_limit", retry_after=30, after_requests=30, times=1)
        )
        _hammer(simulator, limiter, ["campaigns", "accounts", "lead_lists"], seconds=1.5, after=throttle)
        records = simulator.requests
    times = [r.time for r in records]
    throttled = next(r.time for r in records if r.status == 429)
    # only requests sent before the client read the 429 (a few ms) may arrive during the pause
    assert _count_between(times, throttled + 0.05, throttled + 0.45) == 0
    assert _count_between(times, throttled + 0.45, throttled + 1.5) > 30  # then every endpoint goes on
    assert {r.path for r in records if r.time > throttled} >= {CAMPAIGNS_PATH, "/api/v2/accounts"}
    assert limiter.workspace.rate == 1.0  # a Retry-After is obeyed, not read as congestion


def test_retry_after_on_emails_pauses_emails_only():
    limiter = WorkspaceLimiter(ClientLimits(emails_requests_per_minute=6000, time_scale=60))
    with Simulator(World(seed=6, sizes={"campaigns": 3, "emails": 20})) as simulator:
        throttle = simulator.faults.add(
            Fault(path=EMAILS_PATH, kind="rate_limit", retry_after=30, after_requests=10, times=1)
        )
        _hammer(simulator, limiter, ["emails", "campaigns"], seconds=1.2, after=throttle)
        records = simulator.requests
    throttled = next(r.time for r in records if r.status == 429)
    emails = [r.time for r in records if r.path == EMAILS_PATH]
    campaigns = [r.time for r in records if r.path == CAMPAIGNS_PATH]
    assert _count_between(emails, throttled + 1e-6, throttled + 0.45) == 0
    assert _count_between(emails, throttled + 0.45, throttled + 1.2) > 0
    assert _count_between(campaigns, throttled, throttled + 0.45) > 10  # the workspace class went on
