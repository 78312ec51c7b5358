"""Pushed webhooks under load: `make bench-webhooks` (or `.venv/bin/python -m bench.webhooks`).

`instantly-sync webhooks serve` runs in its own process on 127.0.0.1 into a fresh DuckDB file; this process
POSTs `--rate` events per second for `--seconds` (payloads of simulated `webhook_events`, 16 keep-alive
connections, `sources/simulator/push.py`), then stops it with SIGTERM and reads the table back. Reported:
events sent, acknowledged (200), in the table, acknowledged but missing (lost), rows beyond one per hash
(duplicated), p50/p99 time to the 200, and the server's peak RSS. The `kill` variant SIGKILLs the server
halfway through and starts it again on the same port; the requests in between fail (they are not
acknowledged, so Instantly would retry them).
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sources.instantly.payloads import content_hash
from sources.instantly.settings import WEBHOOK_SECRET_ENV, WEBHOOK_SECRET_HEADER, WEBHOOKS_PUSHED_TABLE
from sources.simulator import World
from sources.simulator.push import event_payloads, push

from .common import free_port

SECRET = "bench-webhook-secret-7d0f3a"
CONNECTIONS = 16


@dataclass
class Figures:
    variant: str
    sent: int
    acknowledged: int
    in_table: int
    lost: int
    duplicated: int
    p50_ms: float
    p99_ms: float
    acknowledged_per_second: float
    peak_rss_mb: float


class Server:
    """`webhooks serve` as a child process; follows its peak RSS (VmHWM) while it runs."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.args = [
            sys.executable, "-m", "pipelines.cli", "webhooks", "serve", "--port", str(port),
            "--duckdb-path", str(workdir / "warehouse.duckdb"), "--pipelines-dir", str(workdir / "pipelines"),
        ]  # fmt: skip
        self.env = {**os.environ, WEBHOOK_SECRET_ENV: SECRET, "RUNTIME__LOG_LEVEL": "ERROR"}
        self.peak_kb = 0
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE, text=True)
        self.process.stdout.readline()  # "receiving Instantly webhooks at ...": it listens
        threading.Thread(target=self._follow_rss, args=(self.process,), daemon=True).start()

    def _follow_rss(self, process: subprocess.Popen) -> None:
        status = Path(f"/proc/{process.pid}/status")
        while process.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.2)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        if self.process.wait(120) != 0:
            raise SystemExit(f"serve exited {self.process.returncode} after SIGTERM")


def run(variant: str, rate: float, seconds: float) -> Figures:
    world = World(seed=1, sizes={"leads": 50_000, "campaigns": 40, "accounts": 100})
    payloads = event_payloads(world, int(rate * seconds))
    hashes = [content_hash(payload) for payload in payloads]
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as folder:
        workdir = Path(folder)
        port = free_port()
        server = Server(workdir, port)
        server.start()
        if variant == "kill":
            threading.Timer(seconds / 2, lambda: (server.kill(), server.start())).start()
        result = push(
            f"http://127.0.0.1:{port}/", payloads, {WEBHOOK_SECRET_HEADER: SECRET}, rate, CONNECTIONS
        )
        server.stop()
        with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as connection:
            query = f"select content_hash from instantly.{WEBHOOKS_PUSHED_TABLE}"
            stored = [row[0] for row in connection.execute(query).fetchall()]
    acknowledged = {hashes[index] for index in result.acknowledged}
    return Figures(
        variant=variant,
        sent=result.sent,
        acknowledged=len(result.acknowledged),
        in_table=len(stored),
        lost=len(acknowledged - set(stored)),
        duplicated=len(stored) - len(set(stored)),
        p50_ms=result.percentile(0.5) * 1000,
        p99_ms=result.percentile(0.99) * 1000,
        acknowledged_per_second=len(result.acknowledged) / result.seconds,
        peak_rss_mb=server.peak_kb / 1024,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--rate", type=float, default=500.0, help="events per second (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=60.0, help="(default: %(default)s)")
    parser.add_argument("--variant", choices=("steady", "kill", "both"), default="both")
    args = parser.parse_args(argv)
    variants = ("steady", "kill") if args.variant == "both" else (args.variant,)
    columns = ("variant", "sent", "acknowledged", "in table", "lost", "duplicated", "ack p50", "ack p99")
    columns += ("acked/s", "peak RSS")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for variant in variants:
        f = run(variant, args.rate, args.seconds)
        counts = (
            f"| {f.variant} | {f.sent:,} | {f.acknowledged:,} | {f.in_table:,} | {f.lost} | {f.duplicated} |"
        )
        timing = f" {f.p50_ms:.1f} ms | {f.p99_ms:.1f} ms | {f.acknowledged_per_second:,.0f} |"
        print(f"{counts}{timing} {f.peak_rss_mb:.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
