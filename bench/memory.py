"""Peak RSS of a project sync of leads into DuckDB, at several sizes: memory must not grow with the data.

Each size runs in a fresh process against its own simulator process (rate limits off), so the figure is
the sync's own. Prints rows, wall time and peak RSS per size, and each peak as a ratio of the smallest.

    .venv/bin/python -m bench.memory --leads 10000 --leads 100000 --leads 1000000
"""

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from .common import NO_CLIENT_LIMITS, peak_rss_mb, run_child, simulator_process, sync_project


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def _child(base_url: str, trace: bool) -> None:
    stop = threading.Event()
    if trace:  # RSS every 5 s on stderr: where in the run memory grows

        def sample() -> None:
            started = time.perf_counter()
            while not stop.wait(5):
                print(
                    f"  {time.perf_counter() - started:6.0f}s rss={_rss_mb():6.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )

        threading.Thread(target=sample, daemon=True).start()
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        result = sync_project(base_url, Path(workdir), ["leads"], **NO_CLIENT_LIMITS)
        figures = {"rows": result.progress.of("leads").rows_kept, "slices": result.slices}
        figures["seconds"] = time.perf_counter() - started
    stop.set()
    figures["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, action="append", help="sizes to run (repeatable)")
    parser.add_argument("--trace", action="store_true", help="print the sync's RSS every 5 s")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.trace)
        return
    results = {}
    for leads in args.leads or [10_000, 100_000, 1_000_000]:
        with simulator_process({"leads": leads, "campaigns": 20, "accounts": 20}) as base_url:
            extra = ["--trace"] if args.trace else []
            figures = results[leads] = run_child("bench.memory", "--child", base_url, *extra)
        smallest = results[min(results)]["peak_rss_mb"]
        print(
            f"leads={leads:>9} rows={figures['rows']:>9} slices={figures['slices']:>2} "
            f"wall={figures['seconds']:>7.1f}s {figures['rows'] / figures['seconds']:>6.0f} rows/s "
            f"peak_rss={figures['peak_rss_mb']:>6.0f} MB ({figures['peak_rss_mb'] / smallest:.2f}x smallest)",
            flush=True,
        )


if __name__ == "__main__":
    main()
