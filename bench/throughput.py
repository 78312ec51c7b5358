"""Leads throughput into DuckDB, side by side in one run: lower bound, dlt's rest_api peer, this project.

Each contender runs in its own process against the same simulator process (same seed, rate limits off),
so wall time and peak RSS are its own. Prints rows/s, requests/s, wall time and peak RSS, and the ratios
project / lower bound and project / peer. `--destination postgres` adds the project row into Postgres.

    .venv/bin/python -m bench.throughput --leads 200000
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from .common import (
    API_KEY,
    NO_CLIENT_LIMITS,
    POSTGRES_URL,
    drop_postgres_schemas,
    peak_rss_mb,
    run_child,
    simulator_process,
    sync_project,
)

LEADS_PATH = "/api/v2/leads/list"


def lower_bound(base_url: str, workdir: Path) -> dict:
    """Plain httpx pages, flattened by DuckDB itself from newline-delimited JSON: no dlt at all."""
    import duckdb
    import httpx
    import orjson

    requests = rows = 0
    staged = workdir / "leads.jsonl"
    with (
        httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}) as http,
        staged.open("wb") as out,
    ):
        body: dict = {"limit": 100}
        while True:
            page = orjson.loads(http.post(LEADS_PATH, json=body).content)
            requests += 1
            items = page["items"]
            for item in items:
                out.write(orjson.dumps(item) + b"\n")
            rows += len(items)
            if not items or not page.get("next_starting_after"):
                break
            body["starting_after"] = page["next_starting_after"]
    con = duckdb.connect(str(workdir / "lower.duckdb"))
    con.execute(
        f"create table leads as select * from read_json_auto('{staged}', maximum_object_size=10000000)"
    )
    con.close()
    return {"rows": rows, "requests": requests}


def peer(base_url: str, workdir: Path, file_format: str) -> dict:
    """dlt's generic rest_api source configured for the same endpoint, as a user would."""
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {"base_url": base_url, "auth": {"type": "bearer", "token": API_KEY}},
            "resources": [
                {
                    "name": "leads",
                    "primary_key": "id",
                    "write_disposition": "merge",
                    "endpoint": {
                        "path": LEADS_PATH,
                        "method": "POST",
                        "json": {"limit": 100},
                        "data_selector": "items",
                        "paginator": {
                            "type": "cursor",
                            "cursor_path": "next_starting_after",
                            "cursor_body_path": "starting_after",
                        },
                    },
                }
            ],
        }
    )
    pipeline = dlt.pipeline(
        "bench_peer",
        destination=dlt.destinations.duckdb(str(workdir / "peer.duckdb")),
        dataset_name="bench",
        pipelines_dir=str(workdir / "pipelines"),
    )
    kwargs = {"loader_file_format": file_format} if file_format != "default" else {}
    info = pipeline.run(source, **kwargs)
    info.raise_on_failed_jobs()
    rows = pipeline.last_trace.last_normalize_info.row_counts.get("leads", 0)
    return {"rows": rows, "requests": None}


def project(base_url: str, workdir: Path) -> dict:
    stats = sync_project(base_url, workdir, ["leads"], **NO_CLIENT_LIMITS).progress.of("leads")
    return {"rows": stats.rows_kept, "requests": stats.requests}


def project_postgres(base_url: str, workdir: Path) -> dict:
    """The project row into Postgres (`--destination postgres`); its schema is dropped before and after."""
    from destinations import Target

    dataset = "bench_throughput"
    target = Target(destination="postgres", dataset=dataset, postgres_credentials=POSTGRES_URL)
    drop_postgres_schemas(dataset)
    try:
        result = sync_project(base_url, workdir, ["leads"], target=target, **NO_CLIENT_LIMITS)
        stats = result.progress.of("leads")
    finally:
        drop_postgres_schemas(dataset)
    return {"rows": stats.rows_kept, "requests": stats.requests}


CONTENDERS = {
    "lower bound (httpx + duckdb)": lambda url, wd: lower_bound(url, wd),
    "peer rest_api (defaults)": lambda url, wd: peer(url, wd, "default"),
    "peer rest_api (parquet)": lambda url, wd: peer(url, wd, "parquet"),
    "project": lambda url, wd: project(url, wd),
    "project (postgres)": lambda url, wd: project_postgres(url, wd),
}
POSTGRES_ONLY = ("project (postgres)",)


def _run_one(name: str, base_url: str) -> None:
    """Child-process entry: run one contender and print its figures as JSON."""
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        figures = CONTENDERS[name](base_url, Path(workdir))
        figures["seconds"] = time.perf_counter() - started
    figures["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--only", action="append", help="run only these contenders (repeatable)")
    parser.add_argument(
        "--destination",
        choices=("duckdb", "postgres"),
        default="duckdb",
        help=f"postgres: also load the project into Postgres at {POSTGRES_URL} (trust auth)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run_one(args.child, args.base_url)
        return

    results = {}
    with simulator_process({"leads": args.leads, "campaigns": 20, "accounts": 20}) as base_url:
        default = [n for n in CONTENDERS if args.destination == "postgres" or n not in POSTGRES_ONLY]
        for name in args.only or default:
            figures = results[name] = run_child("bench.throughput", "--child", name, "--base-url", base_url)
            print(
                f"{name:<30} rows={figures['rows']:>8} {figures['rows'] / figures['seconds']:>9.0f} rows/s "
                f"wall={figures['seconds']:>7.1f}s peak_rss={figures['peak_rss_mb']:>7.0f} MB",
                flush=True,
            )
    _print_ratios(results)


def _print_ratios(results: dict) -> None:
    rate = {name: figures["rows"] / figures["seconds"] for name, figures in results.items()}
    mine = rate.get("project")
    if mine is None:
        return
    for other in ("lower bound (httpx + duckdb)", "peer rest_api (defaults)", "peer rest_api (parquet)"):
        if other in rate:
            print(f"project / {other:<30} {mine / rate[other]:.2f}x")


if __name__ == "__main__":
    main()
