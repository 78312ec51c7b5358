"""Serve a simulated workspace until Ctrl-C.

python -m sources.simulator --port 8787 --seed 1 --leads 100000 --rate-limits on
python -m sources.simulator --messy --leads 30000 --rate-limits off
python -m sources.simulator --missing-add-on ai-agents
python -m sources.simulator --leads 20000 --rate-limits off --cache-pages   # for benchmarks
"""

import argparse

from .limits import RateLimits
from .registry import ADD_ONS, ENTITIES
from .server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sources.simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-key", default="sim-key")
    parser.add_argument("--rate-limits", choices=("on", "off"), default="on")
    parser.add_argument("--time-scale", type=float, default=1.0, help="60 = a minute of API time per second")
    parser.add_argument("--retry-after", action="store_true", help="send Retry-After with 429s")
    parser.add_argument(
        "--churn",
        action="append",
        default=[],
        metavar="ENTITY:DELETED:CHANGED",
        help="before serving, delete and change that many items (e.g. leads:10000:50000); repeatable",
    )
    parser.add_argument(
        "--messy",
        action="store_true",
        help="leads carry what real workspaces carry: odd scripts, long strings, deep and shifting payloads",
    )
    parser.add_argument(
        "--missing-add-on",
        action="append",
        default=[],
        choices=sorted(ADD_ONS),
        help="a paid add-on the workspace's plan lacks: its endpoints answer 402; repeatable",
    )
    parser.add_argument(
        "--cache-pages",
        action="store_true",
        help="benchmarks: keep every page built and serve the same bytes again for an identical request "
        "while the world is unchanged (faults, keys and rate limits still apply per request); hit and miss "
        "counts at GET /_simulator/page-cache",
    )
    for name in ENTITIES:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            dest=name,
            metavar="N",
            help=f"number of {name} (default {ENTITIES[name].default_size})",
        )
    args = parser.parse_args(argv)
    sizes = {name: getattr(args, name) for name in ENTITIES if getattr(args, name) is not None}
    limits = (
        RateLimits(time_scale=args.time_scale, retry_after=args.retry_after)
        if args.rate_limits == "on"
        else None
    )
    churn = {}
    for spec in args.churn:
        entity, deleted, changed = spec.split(":")
        churn[entity] = (int(deleted), int(changed))
    serve(
        port=args.port,
        seed=args.seed,
        sizes=sizes,
        rate_limits=limits,
        api_key=args.api_key,
        host=args.host,
        churn=churn,
        messy=args.messy,
        missing_add_ons=tuple(args.missing_add_on),
        cache_pages=args.cache_pages,
    )


if __name__ == "__main__":
    main()
