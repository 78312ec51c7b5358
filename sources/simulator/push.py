"""Push webhook events the way Instantly does: POST each payload to a URL at a steady rate, with the
webhook's headers, and record which were acknowledged (answered 200) and how fast.

The payloads are those of simulated `webhook_events` (`World.add`): the same shape the API's event log
holds, and the same objects, so a test can push an event and also find it polled. Requests go out on a
few keep-alive connections, each one waiting for its answer (as Instantly's delivery workers do); a
request that fails (refused, dropped, not 200) is not retried, only counted.

    python -m sources.simulator.push --url http://127.0.0.1:8788/ --rate 500 --seconds 10
"""

import argparse
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from sources.instantly.settings import WEBHOOK_SECRET_ENV, WEBHOOK_SECRET_HEADER

from .world import World


@dataclass
class PushResult:
    sent: int = 0
    acknowledged: list[int] = field(default_factory=list)  # indexes of the payloads answered 200
    latencies: list[float] = field(default_factory=list)  # seconds from send to 200, per acknowledged one
    refused: dict[int, int] = field(default_factory=dict)  # status (0: no answer) -> count
    seconds: float = 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def event_payloads(world: World, count: int) -> list[dict[str, Any]]:
    """`count` new events of the world (created now), as the payloads Instantly would push."""
    return [event["payload"] for event in world.add("webhook_events", count)]


def push(
    url: str,
    payloads: list[dict[str, Any]],
    headers: dict[str, str],
    rate: float,
    connections: int = 8,
    timeout: float = 10.0,
    result: PushResult | None = None,
) -> PushResult:
    """POST every payload, the i-th one at start + i / rate (later when the receiver is slower). Into
    `result` when given, which another thread can watch fill."""
    result = PushResult() if result is None else result
    bodies = [orjson.dumps(payload) for payload in payloads]
    lock = threading.Lock()
    position = iter(range(len(bodies)))
    started = time.perf_counter()

    def worker() -> None:
        send_headers = {"Content-Type": "application/json", **headers}
        with httpx.Client(timeout=timeout, headers=send_headers) as client:
            while True:
                with lock:
                    index = next(position, None)
                if index is None:
                    return
                delay = started + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent_at = time.perf_counter()
                try:
                    status = client.post(url, content=bodies[index]).status_code
                except httpx.TransportError:
                    status = 0
                answered = time.perf_counter() - sent_at
                with lock:
                    result.sent += 1
                    if status == 200:
                        result.acknowledged.append(index)
                        result.latencies.append(answered)
                    else:
                        result.refused[status] = result.refused.get(status, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sources.simulator.push", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=500.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    world = World(seed=args.seed, sizes={"leads": 20_000, "campaigns": 20, "accounts": 50})
    payloads = event_payloads(world, int(args.rate * args.seconds))
    result = push(
        args.url, payloads, {WEBHOOK_SECRET_HEADER: os.environ.get(WEBHOOK_SECRET_ENV, "")}, args.rate
    )
    print(
        f"sent {result.sent}, acknowledged {len(result.acknowledged)} in {result.seconds:.1f} s; "
        f"ack p50 {result.percentile(0.5) * 1000:.1f} ms, p99 {result.percentile(0.99) * 1000:.1f} ms; "
        f"refused {result.refused or 'none'}"
    )


if __name__ == "__main__":
    main()
