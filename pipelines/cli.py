"""`instantly-sync`: run, demo, simulate, status and dashboard. Flags are conveniences over dlt config.

Errors are one line on stderr and a documented exit code (see `ExitCode`); the API key is never printed.
"""

import argparse
import enum
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import dlt

from destinations import DEFAULT_DATASET, DEFAULT_DUCKDB_PATH, DESTINATIONS, Target, models
from sources.instantly.errors import InstantlyError

from . import report
from .lock import AlreadyRunning, exclusive
from .sync import SyncOptions, _lock_paths, make_pipeline, run_sync

DEMO_DIR = Path(".instantly_demo")
DEMO_DUCKDB = "instantly_demo.duckdb"
DEMO_SIZES = {"campaigns": 8, "accounts": 25, "leads": 5000, "emails": 1500, "audit_logs": 800}


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # the sync failed (API fault that did not clear, destination error, ...)
    CONFIG = 2  # bad flags or configuration, found before any data moved
    AUTH = 3  # 401/402/403: the key, plan or scope must be fixed
    LOCKED = 4  # another sync holds the lock
    PARTIAL = 5  # the sync finished, but some resources were skipped (the key lacks their scope)
    INTERRUPTED = 130


def _add_target_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--destination", choices=DESTINATIONS, default="duckdb")
    parser.add_argument(
        "--duckdb-path", default=DEFAULT_DUCKDB_PATH, help="DuckDB file (default: %(default)s)"
    )
    parser.add_argument(
        "--dataset", default=DEFAULT_DATASET, help="dataset/schema name (default: %(default)s)"
    )
    parser.add_argument("--pipelines-dir", help="where dlt keeps pipeline state (default: ~/.dlt/pipelines)")


def _target(args: argparse.Namespace) -> Target:
    return Target(destination=args.destination, dataset=args.dataset, duckdb_path=args.duckdb_path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="instantly-sync", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="sync the workspace into the warehouse")
    _add_target_flags(run)
    run.add_argument("--resources", help="comma-separated resources (default: all, or the config list)")
    run.add_argument("--full-refresh", action="store_true", help="drop the selected tables and state first")
    run.add_argument("--wait", action="store_true", help="wait for a running sync instead of exiting")
    run.add_argument("--base-url", help="API base URL (default: config, else https://api.instantly.ai)")
    run.add_argument("--progress-interval", type=float, default=10.0, help="seconds between progress lines")
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser("demo", help="serve the simulator and sync it into a local DuckDB file")
    demo.add_argument("--duckdb-path", default=DEMO_DUCKDB)
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(handler=cmd_demo)

    simulate = commands.add_parser("simulate", help="serve the local Instantly API simulator")
    simulate.add_argument("--port", type=int, default=8787)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.set_defaults(handler=cmd_simulate)

    status = commands.add_parser("status", help="last load, rows per table, stored cursors")
    _add_target_flags(status)
    status.set_defaults(handler=cmd_status)

    dashboard = commands.add_parser("dashboard", help="the analytics models as a local web dashboard")
    _add_target_flags(dashboard)
    dashboard.add_argument("--port", type=int, default=8765, help="port to serve on (default: %(default)s)")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    dashboard.add_argument("--out", help="write one self-contained HTML file here instead of serving")
    dashboard.set_defaults(handler=cmd_dashboard)
    return parser


def refresh_models(pipeline: dlt.Pipeline, target: Target) -> str:
    """Rebuild the analytics models after a sync, under the sync's lock (skipped if another sync holds
    it: that one refreshes them when it finishes)."""
    try:
        with exclusive(_lock_paths(pipeline.pipelines_dir, target), wait=False):
            return models.refresh(pipeline).summary()
    except AlreadyRunning:
        return "models: not refreshed now; the sync running on this destination refreshes them"


def cmd_run(args: argparse.Namespace) -> int:
    source_args = {"base_url": args.base_url} if args.base_url else {}
    options = SyncOptions(
        target=_target(args),
        resources=[r.strip() for r in args.resources.split(",") if r.strip()] if args.resources else None,
        full_refresh=args.full_refresh,
        pipelines_dir=args.pipelines_dir,
        wait_for_lock=args.wait,
        progress_interval=args.progress_interval,
        source_args=source_args,
    )
    result = run_sync(options)
    print(report.summary(result))
    print(refresh_models(result.pipeline, options.target))
    return ExitCode.PARTIAL if result.progress.skipped() else ExitCode.OK


def cmd_demo(args: argparse.Namespace) -> int:
    from sources.simulator import RateLimits, Simulator, World

    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    Path(args.duckdb_path).unlink(missing_ok=True)
    world = World(seed=args.seed, sizes=DEMO_SIZES)
    with Simulator(world, rate_limits=RateLimits()) as simulator:
        print(f"simulator serving a demo workspace at {simulator.base_url}")
        options = SyncOptions(
            target=Target(duckdb_path=args.duckdb_path),
            pipelines_dir=str(DEMO_DIR / "pipelines"),
            source_args={"base_url": simulator.base_url, "api_key": simulator.api_key},
        )
        result = run_sync(options)
    print(report.summary(result))
    print(refresh_models(result.pipeline, options.target))
    print()
    print(report.table_counts(result.pipeline))
    print()
    print(report.sample_query(result.pipeline))
    print(f"\nThe warehouse is {args.duckdb_path}; query it with: duckdb {args.duckdb_path}")
    print(f"See it in a browser: instantly-sync dashboard --duckdb-path {args.duckdb_path}")
    return ExitCode.OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from sources.simulator import serve

    serve(port=args.port, seed=args.seed)
    return ExitCode.OK


def cmd_status(args: argparse.Namespace) -> int:
    target = _target(args)
    target.validate()
    print(report.status(make_pipeline(target, args.pipelines_dir)))
    return ExitCode.OK


def _dashboard_target(args: argparse.Namespace) -> Target:
    target = _target(args)
    default_missing = args.duckdb_path == DEFAULT_DUCKDB_PATH and not Path(DEFAULT_DUCKDB_PATH).exists()
    if target.destination == "duckdb" and default_missing and Path(DEMO_DUCKDB).is_file():
        print(f"no {DEFAULT_DUCKDB_PATH} here: showing the demo warehouse {DEMO_DUCKDB}", file=sys.stderr)
        target = Target(destination="duckdb", dataset=args.dataset, duckdb_path=DEMO_DUCKDB)
    return target


def cmd_dashboard(args: argparse.Namespace) -> int:
    from . import dashboard

    target = _dashboard_target(args)
    found = dashboard.read_models(target)  # fails early (exit 2) on a missing or unreadable warehouse
    absent = [name for name in models.MODEL_NAMES if name not in found]
    if absent:
        print(f"note: models not in the warehouse (sync to build them): {', '.join(absent)}", file=sys.stderr)
    if args.out:
        path = dashboard.write(target, args.out)
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB); open it in a browser")
        return ExitCode.OK
    server = dashboard.make_server(target, args.host, args.port)
    host, port = server.server_address[:2]
    print(f"dashboard of {dashboard.describe(target)} at http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return ExitCode.OK


def _secret_values() -> list[str]:
    """Values to scrub from any message we print, whatever produced it."""
    values = [os.environ.get("SOURCES__INSTANTLY__API_KEY", "")]
    try:
        values.append(str(dlt.secrets.get("sources.instantly.api_key") or ""))
    except Exception:
        pass
    return [v for v in values if len(v) >= 4]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    for secret in _secret_values():
        text = text.replace(secret, "***")
    return text


def _find_cause(exc: BaseException) -> BaseException:
    """The innermost error of ours in dlt's wrapping chain, else the original."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, InstantlyError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return exc


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("instantly-sync: interrupted; the next run resumes from the last checkpoint", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # every failure becomes one line and an exit code
        cause = _find_cause(exc)
        code = cause.exit_code if isinstance(cause, InstantlyError) else ExitCode.FAILED
        kind = "" if isinstance(cause, InstantlyError) else f"{type(cause).__name__}: "
        print(f"instantly-sync: error: {kind}{_one_line(cause)}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
