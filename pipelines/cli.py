"""`instantly-sync`: run, check, reset, status, demo, simulate, dashboard and webhooks. Flags are conveniences
over dlt config.

Errors are one line on stderr and a documented exit code (see `ExitCode`); API keys are never printed.
"""

import argparse
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import dlt

from destinations import DEFAULT_DATASET, DEFAULT_DUCKDB_PATH, DESTINATIONS, Target, models
from sources.instantly import settings
from sources.instantly.errors import ConfigError

from . import freshness, report, webhooks
from .lock import datasets_locked
from .messages import ExitCode, describe_error, exit_code, quiet_dlt_pool_shutdown
from .reset import reset
from .runs import run_workspaces, workspace_target
from .sync import SyncOptions, make_pipeline, pipeline_lock_path, selected_resources
from .webhooks.config import webhook_settings
from .webhooks.register import DEFAULT_EVENT_TYPE
from .workspaces import SINGLE, configured_workspaces

DEMO_DIR = Path(".instantly_demo")
DEMO_DUCKDB = "instantly_demo.duckdb"
DEMO_SIZES = {"campaigns": 8, "accounts": 25, "leads": 5000, "emails": 1500, "audit_logs": 800}
RESUMES = "the next run resumes from the last checkpoint"


def _add_target_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--destination", choices=DESTINATIONS, default="duckdb")
    parser.add_argument(
        "--duckdb-path", default=DEFAULT_DUCKDB_PATH, help="DuckDB file (default: %(default)s)"
    )
    parser.add_argument(
        "--dataset", default=DEFAULT_DATASET, help="dataset/schema name (default: %(default)s)"
    )
    parser.add_argument("--pipelines-dir", help="where dlt keeps pipeline state (default: ~/.dlt/pipelines)")


def _add_workspace_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspaces", help="comma-separated names of configured workspaces (default: every one configured)"
    )
    parser.add_argument(
        "--separate-datasets",
        action="store_true",
        help="one dataset per workspace (<dataset>_<name>) instead of one shared dataset",
    )


def _target(args: argparse.Namespace) -> Target:
    return Target(destination=args.destination, dataset=args.dataset, duckdb_path=args.duckdb_path)


def _names(text: str | None) -> list[str] | None:
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


def _workspace_targets(args: argparse.Namespace) -> list[tuple[str, Target]]:
    """(workspace label, target) of each workspace a command addresses, as `run` writes them."""
    base = _target(args)
    base.validate()
    workspaces = configured_workspaces(_names(args.workspaces))
    return [(w.label, workspace_target(base, w, args.separate_datasets)) for w in workspaces]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="instantly-sync", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="sync the workspace into the warehouse")
    _add_target_flags(run)
    run.add_argument("--resources", help="comma-separated resources (default: all, or the config list)")
    run.add_argument("--full-refresh", action="store_true", help="drop the selected tables and state first")
    run.add_argument("--wait", action="store_true", help="wait for a running sync instead of exiting")
    run.add_argument("--base-url", help="API base URL (default: config, else https://api.instantly.ai)")
    run.add_argument(
        "--start-date", help="first backfill of time-keyed resources starts here (ISO date; default: config)"
    )
    run.add_argument("--progress-interval", type=float, default=10.0, help="seconds between progress lines")
    run.add_argument("--json", action="store_true", help="print the run report as JSON")
    _add_workspace_flags(run)
    run.add_argument(
        "--jobs",
        metavar="N",
        help="workspaces synced at once, each in a worker process (default: config jobs, else the core "
        "count); 1: one after another in this process",
    )
    run.set_defaults(handler=cmd_run)

    check = commands.add_parser("check", help="exit 6 when a resource's last successful sync is too old")
    _add_target_flags(check)
    _add_workspace_flags(check)
    check.add_argument("--max-age", required=True, help="e.g. 90m, 2h, 1d, 1h30m")
    check.set_defaults(handler=cmd_check)

    reset_ = commands.add_parser("reset", help="drop resources' tables and state: the next run re-syncs them")
    _add_target_flags(reset_)
    _add_workspace_flags(reset_)
    reset_.add_argument("resources", nargs="+", help="resource names (see README)")
    reset_.add_argument("--wait", action="store_true", help="wait for a running sync instead of exiting")
    reset_.set_defaults(handler=cmd_reset)

    demo = commands.add_parser("demo", help="serve the simulator and sync it into a local DuckDB file")
    demo.add_argument("--duckdb-path", default=DEMO_DUCKDB)
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(handler=cmd_demo)

    simulate = commands.add_parser("simulate", help="serve the local Instantly API simulator")
    simulate.add_argument("--port", type=int, default=8787)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--messy", action="store_true", help="leads as real workspaces hold them")
    simulate.set_defaults(handler=cmd_simulate)

    status = commands.add_parser("status", help="last load, rows per table, stored cursors")
    _add_target_flags(status)
    _add_workspace_flags(status)
    status.set_defaults(handler=cmd_status)

    dashboard = commands.add_parser("dashboard", help="the analytics models as a local web dashboard")
    _add_target_flags(dashboard)
    dashboard.add_argument("--port", type=int, default=8765, help="port to serve on (default: %(default)s)")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    dashboard.add_argument("--out", help="write one self-contained HTML file here instead of serving")
    dashboard.set_defaults(handler=cmd_dashboard)

    webhooks = commands.add_parser("webhooks", help="events Instantly pushes: receive them, register the URL")
    actions = webhooks.add_subparsers(dest="action", required=True)
    serve = actions.add_parser("serve", help="receive pushed events, spool them, load webhook_events_pushed")
    _add_target_flags(serve)
    serve.add_argument(
        "--host", default=settings.WEBHOOK_HOST, help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=settings.WEBHOOK_PORT, help="(default: %(default)s; 0: any)"
    )
    serve.set_defaults(handler=cmd_webhooks_serve)
    register = actions.add_parser("register", help="create or update the workspace's webhook to --url")
    register.add_argument("--url", required=True, help="the public URL `webhooks serve` is reached at")
    register.add_argument("--event-type", default=DEFAULT_EVENT_TYPE, help="(default: %(default)s)")
    register.add_argument("--base-url", help="API base URL (default: config, else https://api.instantly.ai)")
    register.set_defaults(handler=cmd_webhooks_register)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    source_args = {"base_url": args.base_url, "start_date": args.start_date}
    options = SyncOptions(
        target=_target(args),
        resources=_names(args.resources),
        full_refresh=args.full_refresh,
        pipelines_dir=args.pipelines_dir,
        wait_for_lock=args.wait,
        progress_interval=args.progress_interval,
        source_args={name: value for name, value in source_args.items() if value},
    )
    workspaces = configured_workspaces(_names(args.workspaces))
    run_report = run_workspaces(options, workspaces, args.separate_datasets, args.jobs)
    print(report.as_json(run_report) if args.json else report.summary(run_report))
    for line in run_report.models:
        print(line, file=sys.stderr if args.json else sys.stdout)
    for line in report.notices(run_report):
        print(f"instantly-sync: {line}", file=sys.stderr)
    return run_report.exit_code


def cmd_check(args: argparse.Namespace) -> int:
    max_age = freshness.parse_age(args.max_age)
    now = datetime.now(UTC)
    by_dataset: dict[Target, list[str]] = {}
    for label, target in _workspace_targets(args):
        by_dataset.setdefault(replace(target, workspace=None), []).append(label)
    stale = 0
    for target, labels in by_dataset.items():
        entries = freshness.freshness(target, labels, args.pipelines_dir)
        print(f"{target.destination}:{target.dataset}: " + freshness.describe(entries, max_age, now))
        stale += len(freshness.stale(entries, max_age, now)) + (0 if entries else 1)
    return ExitCode.STALE if stale else ExitCode.OK


def cmd_reset(args: argparse.Namespace) -> int:
    if settings.WEBHOOKS_PUSHED_TABLE in args.resources:
        raise ConfigError(
            f"{settings.WEBHOOKS_PUSHED_TABLE} is not reset: it holds what `webhooks serve` received, "
            "which no sync can fetch again (drop the table yourself if you mean to lose it)"
        )
    names = list(selected_resources(args.resources))
    targets = [target for _, target in _workspace_targets(args)]
    pipelines_dir = args.pipelines_dir or dlt.common.pipeline.get_dlt_pipelines_dir()
    pipeline_locks = [pipeline_lock_path(pipelines_dir, target) for target in targets]
    with datasets_locked(targets, args.wait, also=pipeline_locks):
        for line in reset(targets, names, pipelines_dir):
            print(line)
    return ExitCode.OK


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
        run_report = run_workspaces(options, [SINGLE])
    print(report.summary(run_report))
    print("\n".join(run_report.models))
    pipeline = run_report.workspaces[0].result.pipeline
    print()
    print(report.table_counts(pipeline))
    print()
    print(report.sample_query(pipeline))
    print(f"\nThe warehouse is {args.duckdb_path}; query it with: duckdb {args.duckdb_path}")
    print(f"See it in a browser: instantly-sync dashboard --duckdb-path {args.duckdb_path}")
    return ExitCode.OK


def cmd_simulate(args: argparse.Namespace) -> int:
    from sources.simulator import serve

    serve(port=args.port, seed=args.seed, messy=args.messy)
    return ExitCode.OK


def cmd_status(args: argparse.Namespace) -> int:
    for _, target in _workspace_targets(args):
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


def cmd_webhooks_serve(args: argparse.Namespace) -> int:
    target = _target(args)
    target.validate()
    pipelines_dir = args.pipelines_dir or dlt.common.pipeline.get_dlt_pipelines_dir()
    webhooks.serve(webhooks.ServeOptions(target, pipelines_dir, args.host, args.port, webhook_settings()))
    return ExitCode.OK


def cmd_webhooks_register(args: argparse.Namespace) -> int:
    done = webhooks.register(args.url, webhook_settings().secret, args.event_type, args.base_url)
    print(f"webhook {done.webhook_id} for {args.url}: {done.action}")
    if done.others:
        print(f"note: {done.others} more webhook(s) send to {args.url}; left as they are", file=sys.stderr)
    return ExitCode.OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    quiet_dlt_pool_shutdown()
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print(f"instantly-sync: interrupted; {RESUMES}", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # every failure becomes one line and an exit code
        code = exit_code(exc)
        advice = f"; {RESUMES}" if code == ExitCode.FAILED else ""
        print(f"instantly-sync: error: {describe_error(exc)}{advice}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
