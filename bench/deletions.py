"""What deletion marking and history cost a second run, side by side: a workspace of N leads synced once,
then 1% of its leads deleted and 5% changed, then synced again, by two contenders in fresh processes:

1. **before**: `deletes = "off"` and `history = false`: a second run as it was before either existed;
2. **now**: the defaults (soft deletes, history of leads).

Each contender has its own warehouse and state from its own first run; both second runs read the same
changed workspace (the simulator restarted with the churn: the same seed serves the same leads otherwise).
Prints wall time and peak RSS of each second run, and the ratios now / before.

    .venv/bin/python -m bench.deletions --leads 1000000
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from .common import NO_CLIENT_LIMITS, peak_rss_mb, run_child, simulator_process, sync_project

CONTENDERS = {
    "before": {"SOURCES__INSTANTLY__DELETES": "off", "SOURCES__INSTANTLY__HISTORY": "false"},
    "now": {},
}
SIZES = {"campaigns": 20, "accounts": 20}


def _child(base_url: str, workdir: str) -> None:
    started = time.perf_counter()
    result = sync_project(base_url, Path(workdir), ["leads"], **NO_CLIENT_LIMITS)
    stats = result.progress.of("leads")
    figures = {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
        "walked": stats.rows_fetched,
        "written": result.rows_loaded.get("leads", 0),
        "deleted": stats.deleted,
    }
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("BASE_URL", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    sizes = {**SIZES, "leads": args.leads}
    churn = {"leads": (args.leads // 100, args.leads // 20)}
    with tempfile.TemporaryDirectory() as root:
        workdirs = {name: Path(root) / name for name in CONTENDERS}
        with simulator_process(sizes) as base_url:
            for name, env in CONTENDERS.items():
                first = run_child("bench.deletions", "--child", base_url, str(workdirs[name]), env=env)
                print(
                    f"{name:<7} first run:  {first['seconds']:6.1f} s, {first['peak_rss_mb']:5.0f} MB",
                    flush=True,
                )
        results = {}
        with simulator_process(sizes, churn=churn) as base_url:
            for name, env in CONTENDERS.items():
                results[name] = run_child(
                    "bench.deletions", "--child", base_url, str(workdirs[name]), env=env
                )
    print(f"\n{args.leads:,} leads; then {churn['leads'][0]:,} deleted and {churn['leads'][1]:,} changed")
    print(f"{'second run':<12} {'wall':>8} {'peak RSS':>9} {'walked':>9} {'written':>8} {'deleted':>8}")
    for name, figures in results.items():
        print(
            f"{name:<12} {figures['seconds']:>7.1f}s {figures['peak_rss_mb']:>6.0f} MB "
            f"{figures['walked']:>9,} {figures['written']:>8,} {figures['deleted']:>8,}"
        )
    before, now = results["before"], results["now"]
    print(
        f"now / before: wall {now['seconds'] / before['seconds']:.2f}x, "
        f"peak RSS {now['peak_rss_mb'] / before['peak_rss_mb']:.2f}x (target: within 1.2x each)"
    )


if __name__ == "__main__":
    main()
