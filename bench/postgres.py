"""Leads into Postgres against DuckDB, side by side in one run: a first load of N leads, then a second load
after 5% of them changed, by each contender in fresh processes against the same simulator:

1. **duckdb**: the default destination (parquet load files);
2. **postgres**: parquet load files copied in as CSV (`destinations.postgres_copy`);
3. **postgres (insert_values)**: dlt's default file format for Postgres, what the sync used before.

Prints rows/s, wall time and peak RSS of each run, the seconds the load jobs spent copying files into
staging tables and merging them into the dataset (summed over the run's jobs, which run in parallel), and
the ratio postgres / duckdb of the median wall times over `--rounds` (each round runs the contenders in a
rotated order, so a noisy neighbour on this shared machine does not always hit the same one). The simulator
serves every page from its cache, filled by an untimed walk before the contenders (`warm_up`): none of them
pays for building pages (the first one did before), as none would against the real API.

    .venv/bin/python -m bench.postgres --leads 200000 --rounds 3
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from .common import (
    NO_CLIENT_LIMITS,
    POSTGRES_URL,
    drop_postgres_schemas,
    peak_rss_mb,
    run_child,
    simulator_process,
    sync_project,
    warm_up,
)

CONTENDERS = ("duckdb", "postgres", "postgres (insert_values)")
SIZES = {"campaigns": 20, "accounts": 20}
CHANGED_SHARE = 0.05


def _dataset(contender: str) -> str:
    return "bench_" + contender.replace(" (insert_values)", "_insert_values")


def _timing_load_jobs() -> dict[str, float]:
    """Seconds the load jobs spend, as `copy` (a load file into its staging table) and `merge` (dlt's SQL
    from staging into the dataset), summed over jobs: every job class runs through `run_managed`."""
    from dlt.common.destination.client import RunnableLoadJob

    spent = {"copy": 0.0, "merge": 0.0}
    run_managed = RunnableLoadJob.run_managed

    def timed(job: RunnableLoadJob, *args) -> None:
        started = time.perf_counter()
        try:
            run_managed(job, *args)
        finally:
            spent["merge" if job.file_name().endswith(".sql") else "copy"] += time.perf_counter() - started

    RunnableLoadJob.run_managed = timed
    return spent


def _child(contender: str, base_url: str, workdir: str) -> None:
    import destinations
    from destinations import Target

    if contender == "postgres (insert_values)":
        destinations.LOADER_FILE_FORMATS["postgres"] = "insert_values"
    if contender == "duckdb":
        target = Target(duckdb_path=str(Path(workdir) / "bench.duckdb"))
    else:
        target = Target(
            destination="postgres", dataset=_dataset(contender), postgres_credentials=POSTGRES_URL
        )
    spent = _timing_load_jobs()
    started = time.perf_counter()
    result = sync_project(base_url, Path(workdir), ["leads"], target=target, **NO_CLIENT_LIMITS)
    seconds = time.perf_counter() - started
    stats = result.progress.of("leads")
    figures = {
        "seconds": seconds,
        "walked": stats.rows_fetched,
        "written": result.rows_loaded.get("leads", 0),
        "peak_rss_mb": peak_rss_mb(),
        **spent,
    }
    print(json.dumps(figures))


def _line(name: str, run: dict) -> str:
    return (
        f"{name:<34} {run['walked'] / run['seconds']:>8,.0f} rows/s {run['seconds']:>7.1f}s "
        f"{run['peak_rss_mb']:>6.0f} MB  written {run['written']:>9,}  copy {run['copy']:>5.1f}s "
        f"merge {run['merge']:>5.1f}s"
    )


def _round(sizes: dict[str, int], churn: dict, order: list[str]) -> dict[str, dict[str, dict]]:
    """Every contender's first and second load, in `order`, each into fresh datasets and folders."""
    runs: dict[str, dict[str, dict]] = {"first": {}, "second": {}}
    for contender in CONTENDERS[1:]:
        drop_postgres_schemas(_dataset(contender))
    try:
        with tempfile.TemporaryDirectory() as root:
            workdirs = {name: Path(root) / name.split()[0] / name for name in order}
            for run, world in (("first", None), ("second", churn)):
                with simulator_process(sizes, churn=world, cache_pages=True) as base_url:
                    warm_up(
                        base_url
                    )  # every contender's pages come from the cache: none pays for building them
                    for name in order:
                        workdirs[name].mkdir(parents=True, exist_ok=True)
                        runs[run][name] = run_child(
                            "bench.postgres", "--child", name, base_url, str(workdirs[name])
                        )
                        print(_line(f"{run}: {name}", runs[run][name]), flush=True)
    finally:
        for contender in CONTENDERS[1:]:
            drop_postgres_schemas(_dataset(contender))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat everything, contenders in a rotated order each round"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("CONTENDER", "BASE_URL", "WORKDIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    sizes = {**SIZES, "leads": args.leads}
    churn = {"leads": (0, int(args.leads * CHANGED_SHARE))}
    seconds: dict[tuple[str, str], list[float]] = {}
    for number in range(args.rounds):
        order = list(CONTENDERS[number % len(CONTENDERS) :] + CONTENDERS[: number % len(CONTENDERS)])
        print(f"round {number + 1}: {', '.join(order)}", flush=True)
        for run, figures in _round(sizes, churn, order).items():
            for name, figure in figures.items():
                seconds.setdefault((run, name), []).append(figure["seconds"])
    median = {key: statistics.median(values) for key, values in seconds.items()}
    print(
        f"\n{args.leads:,} leads; then {churn['leads'][1]:,} changed; median wall of {args.rounds} round(s)"
    )
    for run in ("first", "second"):
        duckdb, postgres, before = (median[(run, name)] for name in CONTENDERS)
        print(
            f"{run} load: postgres / duckdb rows/s {duckdb / postgres:.2f}x (target at least 0.9x); "
            f"postgres / insert_values {before / postgres:.2f}x"
        )


if __name__ == "__main__":
    main()
