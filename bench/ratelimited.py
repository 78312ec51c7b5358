"""How close the client gets to the API's rate limits, and what concurrent resources cost each other.

The simulator runs in this process with the API's real limits (100/s and 6,000/min per workspace, 20/min
for GET /emails) on a clock `--time-scale` times faster; each sync runs in a fresh child process with
`rate_time_scale` set to match. The simulator records every request, so rates and 429s are as the server
saw them. Runs: (a) emails alone, (b) leads alone, (c) a full sync of every resource, then (d) the
workspace limit alone: leads cannot reach 100 requests/s on this machine (that is 10,000 rows/s), so
(d) hammers a cheap endpoint with the project's client from several threads, on a slower clock.

    .venv/bin/python -m bench.ratelimited
"""

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

from .common import API_KEY, run_child, sync_project

EMAILS_PATH = "/api/v2/emails"
API_MINUTE = 60.0
# per-minute limits the simulator enforces (sources/simulator/limits.py defaults)
WORKSPACE_PER_MINUTE = 6000
EMAILS_PER_MINUTE = 20


def _child(base_url: str, resources: str, time_scale: float) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        names = resources.split(",") if resources else None
        result = sync_project(base_url, Path(workdir), names, rate_time_scale=time_scale)
        rows = {name: stats.rows_kept for name, stats in result.progress.resources.items()}
        figures = {"rows": rows, "slices": result.slices}
        figures["seconds"] = time.perf_counter() - started
    print(json.dumps(figures))


def fraction_of_limit(times: list[float], per_minute: int, time_scale: float) -> float | None:
    """Requests in the whole API minutes from the first request on, as a fraction of the limit (None if
    the requests span less than one API minute)."""
    if not times:
        return None
    times = sorted(times)
    minute = API_MINUTE / time_scale
    minutes = int((times[-1] - times[0]) // minute)
    if minutes < 1:
        return None
    counted = sum(moment < times[0] + minutes * minute for moment in times)
    return counted / (minutes * per_minute)


def class_figures(records: list, time_scale: float) -> dict:
    """Per limiter class: requests, API minutes spanned, fraction of the allowed rate, 429s."""
    figures = {}
    for name, per_minute, chosen in (
        ("workspace", WORKSPACE_PER_MINUTE, records),
        ("emails", EMAILS_PER_MINUTE, [r for r in records if r.path == EMAILS_PATH]),
    ):
        if not chosen:
            continue
        times = [r.time for r in chosen]
        span = (max(times) - min(times)) * time_scale / API_MINUTE
        figures[name] = {
            "requests": len(chosen),
            "api_minutes": span,
            "fraction": fraction_of_limit(times, per_minute, time_scale),
            "429s": sum(r.status == 429 for r in chosen),
        }
    return figures


def _print_run(label: str, wall: float, figures: dict) -> None:
    print(f"{label}: wall {wall:.1f} s", flush=True)
    for name, f in figures.items():
        fraction = "n/a (< 1 API minute)" if f["fraction"] is None else f"{f['fraction']:.1%}"
        per_minute = f["429s"] / f["api_minutes"] if f["api_minutes"] else float(f["429s"])
        print(
            f"    {name:<9} {f['requests']:>6} requests over {f['api_minutes']:6.1f} API min, "
            f"{fraction} of the allowed rate, {f['429s']} x 429 ({per_minute:.2f}/API min)",
            flush=True,
        )


def hammer_workspace(base_url: str, time_scale: float, api_minutes: float, threads: int) -> None:
    """(d): `threads` threads fetch a one-item page over and over through one shared limiter."""
    from sources.instantly.client import InstantlyClient, RetryPolicy
    from sources.instantly.endpoints import ENDPOINTS_BY_NAME
    from sources.instantly.progress import ResourceStats
    from sources.instantly.ratelimit import RateLimits, WorkspaceLimiter

    limiter = WorkspaceLimiter(RateLimits(time_scale=time_scale))
    endpoint = ENDPOINTS_BY_NAME["workspace"]
    deadline = time.monotonic() + api_minutes * API_MINUTE / time_scale

    def worker() -> None:
        with InstantlyClient(base_url, API_KEY, limiter, RetryPolicy()) as client:
            while time.monotonic() < deadline:
                client.request(endpoint, ResourceStats())

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--time-scale", type=float, default=60.0, help="for (a)-(c); 60: an API minute a second"
    )
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--emails", type=int, default=100_000)
    parser.add_argument("--workspace-time-scale", type=float, default=2.0, help="for (d)")
    parser.add_argument("--workspace-minutes", type=float, default=3.0, help="API minutes of (d)")
    parser.add_argument("--threads", type=int, default=4, help="client threads of (d)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--resources", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.resources, args.time_scale)
        return

    from sources.simulator import RateLimits, Simulator, World

    scale = args.time_scale
    world = World(seed=1, sizes={"leads": args.leads, "emails": args.emails})
    print(f"time scale {scale:g}: an API minute lasts {API_MINUTE / scale:g} s", flush=True)
    walls = {}
    with Simulator(world, api_key=API_KEY, rate_limits=RateLimits(time_scale=scale)) as simulator:
        for label, resources in (("emails alone", "emails"), ("leads alone", "leads"), ("full sync", "")):
            simulator.reset_requests()
            figures = run_child(
                "bench.ratelimited", "--child", simulator.base_url, "--resources", resources,
                "--time-scale", str(scale),
            )  # fmt: skip
            walls[label] = figures["seconds"]
            _print_run(label, figures["seconds"], class_figures(simulator.requests, scale))
    slowest = max(("emails alone", "leads alone"), key=walls.get)
    print(f"full sync / slowest alone ({slowest}): {walls['full sync'] / walls[slowest]:.2f}x", flush=True)

    scale = args.workspace_time_scale
    with Simulator(World(seed=1), api_key=API_KEY, rate_limits=RateLimits(time_scale=scale)) as simulator:
        started = time.perf_counter()
        hammer_workspace(simulator.base_url, scale, args.workspace_minutes, args.threads)
        label = (
            f"workspace limit, GET /workspaces/current from {args.threads} threads at time scale {scale:g}"
        )
        _print_run(label, time.perf_counter() - started, class_figures(simulator.requests, scale))


if __name__ == "__main__":
    main()
