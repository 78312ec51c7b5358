"""Pushed webhooks: `instantly-sync webhooks serve` as a real process, events POSTed over real HTTP, read back
from `webhook_events_pushed` in DuckDB and Postgres; `webhooks register` against the simulator.

A 200 promises the event is stored: refused requests store nothing, acknowledged ones land exactly once,
also when the process is SIGKILLed mid-stream and restarted, and a torn spool line is never loaded.
"""

import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from pipelines.messages import ExitCode
from pipelines.webhooks.loader import spool_directory
from pipelines.webhooks.spool import SUFFIX, encode
from sources.instantly.payloads import content_hash
from sources.instantly.settings import (
    CONTENT_HASH_COLUMN,
    WEBHOOK_SECRET_ENV,
    WEBHOOK_SECRET_HEADER,
    WEBHOOKS_PUSHED_TABLE,
)
from sources.simulator import World
from sources.simulator.push import PushResult, event_payloads, push

from .conftest import Warehouse, run_cli
from .killing import SyncProcess, cli_env
from .test_secrets import files_holding

SECRET = "whsec-4f1d9a7c2b8e6d3f5a0c91"
GOOD = {WEBHOOK_SECRET_HEADER: SECRET}
ADMIN_KEY = "sim-admin-key"
HOOK_URL = "https://hooks.example.com/instantly"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Serve:
    """One `webhooks serve` child at a fixed port (a restart listens where the first one did)."""

    started: list[SyncProcess] = []  # every child, for `no_child_left` to kill when a test fails

    def __init__(self, warehouse: Warehouse, workdir: Path, **settings: float) -> None:
        target = warehouse.target
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.args = [
            "webhooks",
            "serve",
            "--pipelines-dir",
            warehouse.pipelines_dir,
            "--port",
            str(self.port),
        ]
        self.args += ["--destination", target.destination, "--dataset", target.dataset]
        if target.destination == "duckdb":
            self.args += ["--duckdb-path", target.duckdb_path]
        self.env = cli_env(warehouse.simulator)
        self.env[WEBHOOK_SECRET_ENV] = SECRET
        for name, value in {"load_interval_seconds": 0.3, **settings}.items():
            self.env[f"SOURCES__INSTANTLY__WEBHOOKS__{name.upper()}"] = str(value)
        self.workdir = workdir
        self.child: SyncProcess | None = None

    def start(self) -> "Serve":
        self.child = SyncProcess(self.args, self.env, self.workdir).start()
        Serve.started.append(self.child)
        deadline = time.monotonic() + 60
        while "receiving Instantly webhooks" not in self.child.stdout:
            assert self.child.running, f"serve exited: {self.child.stderr}"
            assert time.monotonic() < deadline, "serve did not start listening"
            time.sleep(0.05)
        return self

    def stop(self) -> str:
        """SIGTERM: it must flush, load and exit 0. Its stderr."""
        os.kill(self.child.process.pid, signal.SIGTERM)
        assert self.child.wait(60) == ExitCode.OK, self.child.stderr
        return self.child.stderr

    def kill(self) -> None:
        self.child.kill()


@pytest.fixture(autouse=True)
def no_child_left():
    """A test that fails with a child still running (a hung stop) kills it, rather than leave it behind."""
    yield
    while Serve.started:
        child = Serve.started.pop()
        if child.running:
            child.kill()


def pushed(warehouse: Warehouse) -> list[str]:
    """The content hashes in `webhook_events_pushed`, one per row (none when the table does not exist)."""
    tables = warehouse.query(
        f"select table_name from information_schema.tables where table_schema = '{warehouse.target.dataset}'"
    )
    if (WEBHOOKS_PUSHED_TABLE,) not in tables:
        return []
    return sorted(
        row[0] for row in warehouse.query(f"select {CONTENT_HASH_COLUMN} from {{ds}}.{WEBHOOKS_PUSHED_TABLE}")
    )


def spooled_bytes(warehouse: Warehouse) -> bytes:
    directory = spool_directory(warehouse.target, warehouse.pipelines_dir)
    return b"".join(path.read_bytes() for path in sorted(directory.glob(f"*{SUFFIX}")))


def post(url: str, payload: object, headers: dict[str, str]) -> int:
    return httpx.post(url, content=orjson.dumps(payload), headers=headers, timeout=10).status_code


def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_stored(warehouse, tmp_path):
    serve = Serve(warehouse, tmp_path, load_interval_seconds=60).start()
    event = {"event_type": "email_sent", "lead_email": "a@example.com"}
    assert post(serve.url, event, {}) == 401
    assert post(serve.url, event, {WEBHOOK_SECRET_HEADER: SECRET[:-1]}) == 401
    assert post(serve.url, event, {WEBHOOK_SECRET_HEADER: SECRET + "x"}) == 401
    assert httpx.get(serve.url, headers=GOOD).status_code == 405
    assert httpx.post(serve.url, content=b"{not json", headers=GOOD).status_code == 400
    assert httpx.post(serve.url, content=b"[1, 2]", headers=GOOD).status_code == 400
    assert httpx.post(serve.url, content=b"x" * 300_000, headers=GOOD).status_code == 413
    assert spooled_bytes(warehouse) == b""
    serve.stop()
    assert pushed(warehouse) == []


def test_an_event_posted_twice_lands_once(warehouse, tmp_path, world):
    serve = Serve(warehouse, tmp_path).start()
    events = event_payloads(world, 3)
    for payload in [*events, events[1], dict(reversed(events[2].items()))]:  # repeats, keys in another order
        assert post(serve.url, payload, GOOD) == 200
    serve.stop()
    assert pushed(warehouse) == sorted(content_hash(payload) for payload in events)
    rows = warehouse.query(f"select event_type from {{ds}}.{WEBHOOKS_PUSHED_TABLE}")
    assert sorted(row[0] for row in rows) == sorted(payload["event_type"] for payload in events)


def test_sigterm_loads_what_was_received_and_exits_0(warehouse, tmp_path, world):
    serve = Serve(warehouse, tmp_path, load_interval_seconds=600, load_batch_events=1000).start()
    events = event_payloads(world, 5)
    for payload in events:
        assert post(serve.url, payload, GOOD) == 200
    assert pushed(warehouse) == []  # nothing loaded yet: the next turn is minutes away
    serve.stop()
    assert pushed(warehouse) == sorted(content_hash(payload) for payload in events)
    assert spooled_bytes(warehouse) == b""


def test_an_event_both_pushed_and_polled_counts_once(warehouse, tmp_path, world):
    new = event_payloads(world, 2)  # delivered now, and in the API's event log too
    polled = world.items("webhook_events")
    serve = Serve(warehouse, tmp_path).start()
    for payload in [polled[0]["payload"], polled[1]["payload"], *new]:
        assert post(serve.url, payload, GOOD) == 200
    serve.stop()
    warehouse.sync(resources=["webhook_events"])
    stored = dict(warehouse.query(f"select id, {CONTENT_HASH_COLUMN} from {{ds}}.webhook_events"))
    assert stored == {event["id"]: content_hash(event["payload"]) for event in polled}
    everything = warehouse.query(
        f"select count(*), count(distinct {CONTENT_HASH_COLUMN}) from (select {CONTENT_HASH_COLUMN} from "
        f"{{ds}}.webhook_events union all select {CONTENT_HASH_COLUMN} from {{ds}}.{WEBHOOKS_PUSHED_TABLE}) e"
    )
    assert everything == [(len(polled) + 4, len({content_hash(event["payload"]) for event in polled}))]


def test_register_creates_the_webhook_once_then_reconciles_its_secret_header(simulator, world):
    simulator.add_key(ADMIN_KEY, scopes=("all:all",))
    env = {
        "SOURCES__INSTANTLY__API_KEY": ADMIN_KEY,
        "SOURCES__INSTANTLY__BASE_URL": simulator.base_url,
        WEBHOOK_SECRET_ENV: SECRET,
    }
    before = len(world.items("webhooks"))
    first = run_cli("webhooks", "register", "--url", HOOK_URL, env=env)
    assert first.returncode == 0, first.stderr
    created = [hook for hook in world.items("webhooks") if hook["target_hook_url"] == HOOK_URL]
    assert len(created) == 1 and "created" in first.stdout
    assert created[0]["headers"] == {WEBHOOK_SECRET_HEADER: SECRET}
    assert created[0]["event_type"] == "all_events"
    world.update("webhooks", ids=[created[0]["id"]], changes={"headers": {"X-Other": "kept"}})

    rotated = "whsec-rotated-0b9e8d7c6f5a4e3d"
    again = run_cli("webhooks", "register", "--url", HOOK_URL, env={**env, WEBHOOK_SECRET_ENV: rotated})
    assert again.returncode == 0, again.stderr
    assert "updated" in again.stdout
    hooks = [hook for hook in world.items("webhooks") if hook["target_hook_url"] == HOOK_URL]
    assert [hook["id"] for hook in hooks] == [created[0]["id"]]
    assert hooks[0]["headers"] == {"X-Other": "kept", WEBHOOK_SECRET_HEADER: rotated}
    assert len(world.items("webhooks")) == before + 1

    unchanged = run_cli("webhooks", "register", "--url", HOOK_URL, env={**env, WEBHOOK_SECRET_ENV: rotated})
    assert "unchanged" in unchanged.stdout
    assert [r.path for r in simulator.requests if r.method != "GET"] == [
        "/api/v2/webhooks",
        f"/api/v2/webhooks/{created[0]['id']}",
    ]
    for result in (first, again, unchanged):
        assert SECRET not in result.stdout + result.stderr and rotated not in result.stdout + result.stderr


def test_a_sigkill_mid_stream_loses_no_acknowledged_event(warehouse, tmp_path):
    world = World(seed=5, sizes={"leads": 5000, "campaigns": 10, "accounts": 30})
    payloads = event_payloads(world, 900)
    serve = Serve(warehouse, tmp_path).start()
    result = PushResult()
    pusher = threading.Thread(target=push, args=(serve.url, payloads, GOOD, 300), kwargs={"result": result})
    pusher.start()
    deadline = time.monotonic() + 60
    while len(result.acknowledged) < 100:  # a slow machine answers later: kill once a stream is under way
        assert time.monotonic() < deadline, result.refused
        time.sleep(0.01)
    serve.kill()  # mid-stream: acknowledged events in the spool, some perhaps halfway into a load
    serve.start()
    pusher.join()
    after = payloads[-1:] + event_payloads(world, 50)  # the restarted process takes events too
    assert all(post(serve.url, payload, GOOD) == 200 for payload in after)
    serve.stop()
    acknowledged = {content_hash(payloads[index]) for index in result.acknowledged}
    acknowledged |= {content_hash(payload) for payload in after}
    stored = pushed(warehouse)
    assert acknowledged <= set(stored)
    assert len(stored) == len(set(stored))


def test_a_torn_spool_line_is_ignored_and_the_rest_is_loaded(warehouse, tmp_path, world):
    serve = Serve(warehouse, tmp_path, load_interval_seconds=600).start()
    events = event_payloads(world, 3)
    for payload in events:
        assert post(serve.url, payload, GOOD) == 200
    serve.kill()  # before any load: the events are only in the spool
    segment = max(spool_directory(warehouse.target, warehouse.pipelines_dir).glob(f"*{SUFFIX}"))
    never_acknowledged = encode({"received_at": "2025-01-01T00:00:00+00:00", "payload": {"torn": True}})
    with segment.open("ab") as handle:  # a record the process was writing when it died
        handle.write(never_acknowledged[: len(never_acknowledged) // 2])
    serve.start()
    stderr = serve.stop()
    assert pushed(warehouse) == sorted(content_hash(payload) for payload in events)
    assert re.search(r"1 torn or corrupt spool line", stderr)
    assert spooled_bytes(warehouse) == b""


def test_the_secret_is_in_no_file_or_output(duckdb_warehouse, tmp_path, simulator, world):
    serve = Serve(duckdb_warehouse, tmp_path).start()
    for payload in event_payloads(world, 3):
        assert post(serve.url, payload, GOOD) == 200
    assert post(serve.url, {"event_type": "x"}, {WEBHOOK_SECRET_HEADER: "wrong"}) == 401
    serve.stop()
    simulator.add_key(ADMIN_KEY, scopes=("all:all",))
    env = {"SOURCES__INSTANTLY__API_KEY": ADMIN_KEY, "SOURCES__INSTANTLY__BASE_URL": simulator.base_url}
    registered = run_cli("webhooks", "register", "--url", HOOK_URL, env={**env, WEBHOOK_SECRET_ENV: SECRET})
    assert registered.returncode == 0, registered.stderr
    duckdb_warehouse.sync(resources=["webhooks", "webhook_events"])  # the webhook's headers are never stored
    assert len(pushed(duckdb_warehouse)) == 3
    assert SECRET not in registered.stdout + registered.stderr
    assert files_holding(tmp_path, SECRET) == []
