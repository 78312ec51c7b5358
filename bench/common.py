"""Helpers shared by the benchmarks: the simulator in its own process, and contenders in fresh processes."""

import json
import os
import resource
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

API_KEY = "bench-key"
# Against a simulator whose rate limits are off, the project's client paces nothing either (0 turns a limit
# off), as the lower bound and the peer do not: the figure is how fast it parses and loads.
NO_CLIENT_LIMITS = {"max_requests_per_second": 0, "max_requests_per_minute": 0}
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres:trust@127.0.0.1:5432/test")


class SimulatorUrl(str):
    """A simulator's base URL that also knows the simulator's process id (`pid`)."""

    pid: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def simulator_process(
    sizes: dict[str, int],
    time_scale: float | None = None,
    churn: dict[str, tuple[int, int]] | None = None,
    messy: bool = False,
    seed: int = 1,
    cache_pages: bool = False,
) -> Iterator[SimulatorUrl]:
    """Serve a simulated workspace from its own process; yields its base URL.

    `time_scale` None turns the simulator's rate limits off; a number turns the API's real limits on,
    with windows shortened by that factor (60: an API minute per real second). `churn`: per entity, how many
    items are deleted and changed before it serves (the same seed otherwise serves the same workspace).
    `messy`: leads as real workspaces hold them (`python -m sources.simulator --messy`). `seed`: another
    seed serves another workspace (its own id and items). `cache_pages`: it keeps every page it built and
    serves it again (`--cache-pages`), so once warmed up it takes next to no CPU from the contender. The URL
    yielded carries the process id (`.pid`).
    """
    port = free_port()
    limits = ["--rate-limits", "off"] if time_scale is None else ["--time-scale", str(time_scale)]
    counts = [arg for name, size in sizes.items() for arg in (f"--{name.replace('_', '-')}", str(size))]
    counts += [f"--churn={name}:{deleted}:{changed}" for name, (deleted, changed) in (churn or {}).items()]
    counts += ["--messy"] if messy else []
    counts += ["--cache-pages"] if cache_pages else []
    simulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sources.simulator",
            "--port",
            str(port),
            "--api-key",
            API_KEY,
            "--seed",
            str(seed),
            *limits,
            *counts,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        simulator.stdout.readline()  # the "serving at" line: the simulator is up
        url = SimulatorUrl(f"http://127.0.0.1:{port}")
        url.pid = simulator.pid
        yield url
    finally:
        simulator.terminate()
        simulator.wait()


def run_child(module: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> dict:
    """Run `python -m module ...` in a fresh process (`env` added to this one's environment, in `cwd`, which
    comes first on its path); return the JSON its last line prints.

    The child's stderr passes through, so its errors (and any tracing) show as they happen.
    """
    env = {**os.environ, "RUNTIME__LOG_LEVEL": "ERROR", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", module, *args], stdout=subprocess.PIPE, text=True, env=env, cwd=cwd
    )
    if done.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed (exit {done.returncode}); its stderr is above")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds process `pid` has used so far (`/proc/<pid>/stat` utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, idle) CPU seconds of the whole machine since boot, all cores (`/proc/stat`)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK"), idle / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """User plus system CPU seconds of the child processes this one has waited for (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sync_project(base_url: str, workdir: Path, resources: list[str] | None, target=None, **source_args):
    """This project's sync of the simulated workspace (`run_sync`, as the CLI runs it, without progress
    lines), into `target` or a DuckDB file in `workdir`; returns its `SyncResult`."""
    from destinations import Target
    from pipelines.sync import SyncOptions, run_sync

    return run_sync(
        SyncOptions(
            target=target or Target(duckdb_path=str(workdir / "project.duckdb")),
            pipelines_dir=str(workdir / "pipelines"),
            resources=resources,
            progress_interval=0,
            source_args={"base_url": base_url, "api_key": API_KEY, **source_args},
        )
    )


def drop_postgres_schemas(dataset: str) -> None:
    import psycopg2

    with psycopg2.connect(POSTGRES_URL) as connection, connection.cursor() as cursor:
        cursor.execute(
            f"drop schema if exists {dataset} cascade; drop schema if exists {dataset}_staging cascade"
        )


LEADS_LIST = "/api/v2/leads/list"
PAGE_SIZE = 100  # the `leads` endpoint's page_size_override: the sync asks for pages of 100


def warm_up(url: str) -> int:
    """Walk every lead of the simulator at `url` once, with the bodies the sync sends (`fetch_page`: the
    endpoint's params, none for `leads`, then `limit`, then `starting_after`), so that its page cache holds
    every page the sync will ask for. Returns the number of pages."""
    headers = {"Authorization": f"Bearer {API_KEY}", "User-Agent": "bench-warm-up/1.0"}
    pages, cursor = 0, None
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        while True:
            body = {"limit": PAGE_SIZE, **({"starting_after": cursor} if cursor else {})}
            response = client.post(LEADS_LIST, json=body)
            response.raise_for_status()
            pages += 1
            cursor = response.json().get("next_starting_after")
            if not cursor:
                return pages
