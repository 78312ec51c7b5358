"""Measure serving speed: ``python -m sources.simulator.bench --leads 1000000 --pages 2000``.

The simulator serves from this process; a child process walks ``POST /leads/list`` with
``limit=100`` over one keep-alive connection with httpx + orjson (so the client does not share this
process's GIL) and reports pages per second. One walk is sequential: the figure includes the client's
own time per page.
"""

import argparse
import subprocess
import sys
import time

from .server import Simulator
from .world import World

_CLIENT = """
import sys, time, httpx, orjson
base, pages = sys.argv[1], int(sys.argv[2])
headers = {"Authorization": "Bearer bench-key", "User-Agent": "simulator-bench/1.0"}
with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
    after, done, items, start = None, 0, 0, time.perf_counter()
    while done < pages:
        body = {"limit": 100} if after is None else {"limit": 100, "starting_after": after}
        page = orjson.loads(client.post("/api/v2/leads/list", json=body).raise_for_status().content)
        done, items = done + 1, items + len(page["items"])
        after = page.get("next_starting_after")
        if after is None:
            break
    elapsed = time.perf_counter() - start
rate = f"{done / elapsed:.0f} pages/s, {items / elapsed:.0f} leads/s"
print(f"{done} pages, {items} leads in {elapsed:.2f} s: {rate}")
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sources.simulator.bench", description=__doc__)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--messy", action="store_true", help="leads as real workspaces hold them")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    world = World(seed=args.seed, sizes={"leads": args.leads}, messy=args.messy)
    with Simulator(world, api_key="bench-key") as simulator:
        print(f"world of {args.leads} leads ready in {time.perf_counter() - started:.2f} s", flush=True)
        subprocess.run([sys.executable, "-c", _CLIENT, simulator.base_url, str(args.pages)], check=True)


if __name__ == "__main__":
    main()
