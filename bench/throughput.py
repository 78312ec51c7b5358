"""Leads throughput into DuckDB, side by side in one run: lower bound, dlt's rest_api peer, this project.

Each contender runs in its own process against the same simulator process (same seed, rate limits off),
so wall time and peak RSS are its own. Prints rows/s, requests/s, wall time and peak RSS, and the ratios
project / lower bound and project / peer. `--destination postgres` adds the project row into Postgres.

Two data sets: `clean` (the simulator's default world) and `messy` (`--messy`: leads as real workspaces hold
them, see `sources/simulator/messy.py`); `--data both` (the default) runs every contender on each, one
simulator process per data set, and prints them side by side, with the share of the leads batches the sync
sent to dlt as Arrow tables (as the sync itself reports it).

    .venv/bin/python -m bench.throughput --leads 200000
    .venv/bin/python -m bench.throughput --data messy --leads 30000 --only project
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


def _sync_figures(stats) -> dict:
    """Rows and requests of a project sync, and how many of its batches went to dlt as Arrow tables and how
    many as dicts, where the sync counts them (None where it does not)."""
    return {
        "rows": stats.rows_kept,
        "requests": stats.requests,
        "arrow_batches": getattr(stats, "arrow_batches", None),
        "dict_batches": getattr(stats, "dict_batches", None),
    }


def project(base_url: str, workdir: Path) -> dict:
    return _sync_figures(sync_project(base_url, workdir, ["leads"], **NO_CLIENT_LIMITS).progress.of("leads"))


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
    return _sync_figures(stats)


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


DATA_SETS = ("clean", "messy")
LOWER_BOUND, PEER_PARQUET = "lower bound (httpx + duckdb)", "peer rest_api (parquet)"
PROJECTS = ("project", "project (postgres)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--only", action="append", help="run only these contenders (repeatable)")
    parser.add_argument(
        "--data",
        choices=(*DATA_SETS, "both"),
        default="both",
        help="the simulator's default leads (clean), leads as real workspaces hold them (messy), or both",
    )
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

    default = [n for n in CONTENDERS if args.destination == "postgres" or n not in POSTGRES_ONLY]
    names = args.only or default
    results: dict[str, dict[str, dict]] = {}
    for data in DATA_SETS if args.data == "both" else (args.data,):
        print(f"== {data} data, {args.leads:,} leads ==", flush=True)
        results[data] = _run_data_set(names, args.leads, messy=data == "messy")
        _print_ratios(results[data])
    if len(results) > 1:
        _print_side_by_side(results)


def _run_data_set(names: list[str], leads: int, messy: bool) -> dict[str, dict]:
    results = {}
    with simulator_process({"leads": leads, "campaigns": 20, "accounts": 20}, messy=messy) as base_url:
        for name in names:
            try:
                figures = run_child("bench.throughput", "--child", name, "--base-url", base_url)
            except (
                SystemExit
            ) as exc:  # one contender failing (a load out of memory) leaves the others' figures
                results[name] = {"failed": str(exc)}
                print(f"{name:<30} FAILED: {exc}", flush=True)
                continue
            results[name] = figures
            print(
                f"{name:<30} rows={figures['rows']:>8} {_rate(figures):>9.0f} rows/s "
                f"wall={figures['seconds']:>7.1f}s peak_rss={figures['peak_rss_mb']:>7.0f} MB",
                flush=True,
            )
    return results


def _rate(figures: dict) -> float:
    return figures["rows"] / figures["seconds"]


def _ran(figures: dict | None) -> bool:
    return figures is not None and "failed" not in figures


def _rate_cell(figures: dict | None) -> str:
    if figures is None:
        return "-"
    return f"{_rate(figures):,.0f} rows/s" if _ran(figures) else "failed"


def _arrow_share(figures: dict) -> str:
    """The share of the leads batches that went to dlt as Arrow tables, as the sync counted them, or n/a."""
    arrow, dicts = figures.get("arrow_batches"), figures.get("dict_batches")
    if not isinstance(arrow, int) or not isinstance(dicts, int):
        return "n/a"
    if arrow + dicts == 0:
        return "no batches"
    return f"{arrow / (arrow + dicts):.0%} ({arrow} of {arrow + dicts})"


def _print_ratios(results: dict) -> None:
    rate = {name: _rate(figures) for name, figures in results.items() if "failed" not in figures}
    mine = rate.get("project")
    if mine is not None:
        for other in (LOWER_BOUND, "peer rest_api (defaults)", PEER_PARQUET):
            if other in rate:
                print(f"project / {other:<30} {mine / rate[other]:.2f}x")
    for name in PROJECTS:
        if name in rate:
            print(
                f"{name}: leads batches as Arrow tables (reported by the sync): {_arrow_share(results[name])}"
            )


def _print_side_by_side(results: dict[str, dict[str, dict]]) -> None:
    """One line per contender (and per ratio), one column per data set."""
    data_sets = list(results)
    print("== side by side ==")
    print(f"{'':<44}" + "".join(f"{data:>22}" for data in data_sets))
    names = list(dict.fromkeys(name for figures in results.values() for name in figures))
    for name in names:
        cells = [_rate_cell(results[d].get(name)) for d in data_sets]
        print(f"{name:<44}" + "".join(f"{cell:>22}" for cell in cells))
    for other in (LOWER_BOUND, PEER_PARQUET):
        cells = []
        for data in data_sets:
            found = {name: figures for name, figures in results[data].items() if "failed" not in figures}
            both = "project" in found and other in found
            cells.append(f"{_rate(found['project']) / _rate(found[other]):.2f}x" if both else "-")
        print(f"{'project / ' + other:<44}" + "".join(f"{cell:>22}" for cell in cells))
    for name in PROJECTS:
        if any(name in results[d] for d in data_sets):
            cells = [_arrow_share(results[d][name]) if _ran(results[d].get(name)) else "-" for d in data_sets]
            print(f"{name + ': Arrow batches':<44}" + "".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()
