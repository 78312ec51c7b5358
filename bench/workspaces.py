"""An agency's workspaces on every core: many workspaces into one shared DuckDB dataset, side by side.

Each workspace is served by its own simulator process (its own seed: its own workspace id and leads; rate
limits off, and the client's too, `NO_CLIENT_LIMITS`), and each contender runs as one command in a fresh
process, syncing `leads` of every workspace into one DuckDB file.

The simulators run on the same cores as the contenders, and building and encoding a page costs them about
half of what parsing and loading it costs the sync: a real API spends none of the client's machine. So they
keep every page they built (`--cache-pages`), and each is walked once (untimed, `warm_up`: the requests the
sync sends) before any contender runs; a contender's pages are then served from the cache. For each
contender the bench prints the simulators' CPU seconds while it ran, and their cache hits and misses
(`--no-cache-pages`: pages built on demand, no warm-up, as before). The contenders:

1. **threads**: the code before worker processes (`THREADS_COMMIT`, exported with `git archive`): every
   workspace in a thread of the command's process;
2. **processes**: this code with `--jobs 2`: two worker processes, one workspace at a time each;
3. **one workspace**: this code, a single workspace with as many leads as all of them together.

Prints wall time, rows/s, and peak RSS of the command and of its largest child (`RUSAGE_CHILDREN`: the
largest process it waited for; with `--jobs 2`, a worker), and the ratio threads / processes.

    .venv/bin/python -m bench.workspaces --workspaces 20 --leads 20000
"""

import argparse
import json
import resource
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx

from .common import (
    API_KEY,
    NO_CLIENT_LIMITS,
    children_cpu_seconds,
    cpu_seconds,
    machine_cpu_seconds,
    peak_rss_mb,
    run_child,
    simulator_process,
    warm_up,
)

# The last commit whose workspaces synced in threads of one process: "today's threads".
THREADS_COMMIT = "a2729faaddf0388f5ed8e82e13fcbe0260a9b9a5"
PACKAGES = ("pipelines", "sources", "destinations")
ROOT = Path(__file__).parents[1]
SIZES = {"campaigns": 20, "accounts": 20}
JOBS = 2
PAGE_CACHE = "/_simulator/page-cache"


def _child(urls_file: str, workdir: str) -> None:
    """One command's sync of every workspace in `urls_file`, as `instantly-sync run --resources leads`."""
    from destinations import Target
    from pipelines.runs import run_workspaces
    from pipelines.sync import SyncOptions
    from pipelines.workspaces import Workspace

    urls = json.loads(Path(urls_file).read_text())
    workspaces = [Workspace(name=f"ws{i:02d}", api_key=API_KEY, base_url=url) for i, url in enumerate(urls)]
    options = SyncOptions(
        target=Target(duckdb_path=str(Path(workdir) / "agency.duckdb")),
        resources=["leads"],
        pipelines_dir=str(Path(workdir) / "pipelines"),
        progress_interval=0,
        source_args=dict(NO_CLIENT_LIMITS),
    )
    started = time.perf_counter()
    report = run_workspaces(options, workspaces)  # the jobs come from config: the threads code has none
    seconds = time.perf_counter() - started
    failed = [run.workspace.label for run in report.workspaces if run.error]
    if failed:
        raise SystemExit(f"workspaces failed: {', '.join(failed)}")
    rows = sum(run.result.rows_loaded.get("leads", 0) for run in report.workspaces)
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_rss_mb(), "child_mb": child_rss}))


def _cache_counts(urls: list[str]) -> dict[str, int]:
    """The simulators' page-cache hits and misses so far, summed."""
    total = {"hits": 0, "misses": 0}
    for url in urls:
        counts = httpx.get(url + PAGE_CACHE, timeout=10).json()
        total = {name: total[name] + counts[name] for name in total}
    return total


def _contender(
    name: str, urls: list, root: Path, code: Path, env: dict[str, str] | None = None, cached: bool = True
) -> dict:
    """One contender's command in a fresh process running the packages in `code`, with `env` added; its
    figures, with the CPU seconds of the command (and its workers), of the simulators and of the whole
    machine (busy and idle: what else ran, and what nobody used) while it ran, and (`cached`) the
    simulators' page-cache hits and misses."""
    workdir = root / name.replace(" ", "_")
    workdir.mkdir()
    urls_file = workdir / "urls.json"
    urls_file.write_text(json.dumps(urls))
    counts = _cache_counts(urls) if cached else None
    simulators, command = sum(cpu_seconds(url.pid) for url in urls), children_cpu_seconds()
    busy, idle = machine_cpu_seconds()
    figures = run_child(
        "bench.workspaces",
        "--child",
        str(urls_file),
        str(workdir),
        env={**(env or {}), "PYTHONPATH": str(ROOT)},
        cwd=code,
    )
    figures["command_cpu"] = children_cpu_seconds() - command
    busy_after, idle_after = machine_cpu_seconds()
    figures["machine_busy"], figures["machine_idle"] = busy_after - busy, idle_after - idle
    figures["simulator_cpu"] = sum(cpu_seconds(url.pid) for url in urls) - simulators
    if counts is not None:
        after = _cache_counts(urls)
        figures["cache"] = {name: after[name] - counts[name] for name in counts}
    return figures


def _warm_up_all(urls: list) -> None:
    started, cpu = time.perf_counter(), sum(cpu_seconds(url.pid) for url in urls)
    with ThreadPoolExecutor(max_workers=2) as pool:
        pages = sum(pool.map(warm_up, urls))
    cpu = sum(cpu_seconds(url.pid) for url in urls) - cpu
    print(
        f"warm-up (untimed): {len(urls)} simulator(s), {pages:,} pages built in "
        f"{time.perf_counter() - started:.1f}s, simulators' CPU {cpu:.1f}s",
        flush=True,
    )


def _export_threads_code(into: Path) -> Path:
    """The packages of `THREADS_COMMIT` in `into`, which the child runs in: first on its path, before this
    checkout (which still gives it `bench`)."""
    into.mkdir()
    archive = subprocess.run(
        ["git", "archive", THREADS_COMMIT, *PACKAGES], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _print(name: str, figures: dict) -> None:
    rate = figures["rows"] / figures["seconds"]
    child = f"{figures['child_mb']:>6.0f} MB" if figures["child_mb"] > 1 else "     - "
    cache = figures.get("cache")
    share = figures["simulator_cpu"] / (figures["command_cpu"] + figures["simulator_cpu"])
    others = figures["machine_busy"] - figures["command_cpu"] - figures["simulator_cpu"]
    hits = f" cache hits={cache['hits']:,} misses={cache['misses']:,}" if cache else ""
    print(
        f"{name:<26} rows={figures['rows']:>8,} {rate:>8,.0f} rows/s wall={figures['seconds']:>7.1f}s "
        f"peak RSS command={figures['peak_rss_mb']:>5.0f} MB largest child={child}\n"
        f"{'':<26} CPU: command {figures['command_cpu']:.1f}s, simulators {figures['simulator_cpu']:.1f}s "
        f"({share:.0%} of both){hits}\n"
        f"{'':<26} machine: {figures['machine_busy']:.1f}s busy, {figures['machine_idle']:.1f}s idle "
        f"(others: {others:.1f}s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("--leads", type=int, default=20_000, help="leads per workspace")
    parser.add_argument(
        "--no-cache-pages",
        dest="cache_pages",
        action="store_false",
        help="simulators build every page on demand (no page cache, no warm-up), as before",
    )
    parser.add_argument("--child", nargs=2, metavar=("URLS_FILE", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        threads_code = _export_threads_code(root / "threads_code")
        print(
            f"== {args.workspaces} workspaces x {args.leads:,} leads, one shared DuckDB dataset ==",
            flush=True,
        )
        cache = args.cache_pages
        with ExitStack() as simulators:
            urls = [
                simulators.enter_context(
                    simulator_process({**SIZES, "leads": args.leads}, seed=100 + i, cache_pages=cache)
                )
                for i in range(args.workspaces)
            ]
            if cache:
                _warm_up_all(urls)
            contenders = {
                "threads (before)": (threads_code, {}),
                f"processes (--jobs {JOBS})": (ROOT, {"SOURCES__INSTANTLY__JOBS": str(JOBS)}),
            }
            for name, (code, env) in contenders.items():
                results[name] = _contender(name, urls, root, code, env, cached=cache)
                _print(name, results[name])
        total = args.workspaces * args.leads
        with simulator_process({**SIZES, "leads": total}, seed=99, cache_pages=cache) as url:
            if cache:
                _warm_up_all([url])
            name = f"1 workspace x {total:,}"
            results[name] = _contender(name, [url], root, ROOT, cached=cache)
            _print(name, results[name])
    threads, processes = results["threads (before)"], results[f"processes (--jobs {JOBS})"]
    print(
        f"threads / processes: {threads['seconds'] / processes['seconds']:.2f}x wall "
        f"(target: at least 1.7x on 2 cores)"
    )


if __name__ == "__main__":
    main()
