"""A sync killed (SIGKILL) at any moment resumes to a warehouse equal to the API: nothing lost, nothing twice.

The sync runs as a real `instantly-sync run` process; the test serves the simulator and kills the process
while it extracts, normalizes, loads, or sits between slices (see `killing.py`). Between rounds of kills the
workspace changes (new leads, emails and audit logs; edited leads, campaigns and accounts), so the resumed
runs must also bring the latest values.
"""

import json
import logging
import math
import random
import signal
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from destinations import LOADER_FILE_FORMATS, Target
from pipelines.sync import SyncOptions, run_sync
from sources.instantly.endpoints import ENDPOINTS_BY_NAME, Strategy
from sources.instantly.walks import format_time, parse_time
from sources.simulator import Fault, RateLimits, Simulator, World

from .conftest import FAST_RETRIES, POSTGRES_URL
from .kill_after_commit import KILL_AFTER_COMMIT
from .killing import (
    CORE_RESOURCES,
    KILL_TARGETS,
    Kill,
    Reader,
    SyncProcess,
    cli_env,
    kill_during,
    loaded_packages,
    pending_packages,
    run_args,
    run_to_end,
    working_dir,
)

RESOURCES = CORE_RESOURCES.split(",")
EMAILS_PATH = "/api/v2/emails"
KEYS = {name: ENDPOINTS_BY_NAME[name].primary_key for name in RESOURCES}
CRASH_WORLD = {"campaigns": 5, "accounts": 12, "leads": 900, "emails": 300, "audit_logs": 150}
DATASET = "instantly"
# Each request takes a little while, so a slice (0.15 s of walking) is a few pages and a run several slices.
SLOW_API = {"kind": "slow", "delay": 0.03}
DLT_IDS = ("_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_load_id")
CHILD_SETTINGS = {"checkpoint_seconds": 0.15, "overlap_seconds": 0}
# load jobs a kill can leave committed but unrecorded: (table, file format, None for the destination's)
COMMITTED_UNRECORDED = {
    "staging_copy_of_a_root_table": ("campaigns", None),
    "staging_copy_of_a_child_table": ("campaigns__email_tag_list", None),
    "staging_copy_declared_deduplicated": ("leads", None),
    "copy_into_a_final_table": ("_dlt_pipeline_state", "insert_values"),
    "merge": ("campaigns", "sql"),
}


# ------------------------------------------------------------------------------------- reading back
def _stored_form(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return value


def _world_form(value: Any, stored: Any) -> Any:
    if isinstance(stored, datetime) and isinstance(value, str):
        return parse_time(value)
    if value == "" and stored is None:
        return None  # the API's empty-string dates load as null
    return value


def assert_warehouse_equals_world(reader: Reader, world: World) -> None:
    """Every item once, with its current values (every top-level scalar field)."""
    for resource in RESOURCES:
        key = KEYS[resource]
        counts = reader.query(f"select count(*), count(distinct {key}) from {{ds}}.{resource}")[0]
        assert counts[0] == counts[1], f"{resource}: {counts[0] - counts[1]} rows visible twice"
        stored = reader.rows_by_key(resource)
        assert sorted(stored) == sorted(world.ids(resource)), f"{resource}: keys differ from the API's"
        for item in world.items(resource):
            row = stored[item[key]]
            for name, value in item.items():
                if isinstance(value, dict | list) or value is None or name not in row:
                    continue
                assert _world_form(value, row[name]) == _stored_form(row[name]), (
                    f"{resource} {item[key]}: {name} is {row[name]!r}, the API says {value!r}"
                )


def assert_cursors_only_describe_loaded_data(reader: Reader, items: dict[str, list[dict[str, Any]]]) -> None:
    """The committed state never runs ahead of the committed rows (`items`: the API's, per resource).

    A walk's cursor names an item that is loaded; a time mark has every item at or before it loaded; the
    leads mark (the start of the last complete walk) has every lead updated before it loaded at that update.
    """
    state = reader.committed_state()
    if state is None:
        return
    resources = state.get("sources", {}).get("instantly", {}).get("resources", {})
    for name, resource_state in resources.items():
        if name not in KEYS:
            continue
        endpoint = ENDPOINTS_BY_NAME[name]
        stored = reader.rows_by_key(name)
        cursor = (resource_state.get("walk") or {}).get("cursor")
        if cursor:
            named = cursor.rsplit("&", 1)[-1]  # accounts: `timestamp_created&email`
            assert named in stored, f"{name}: the stored cursor {cursor!r} names an item that is not loaded"
        mark = parse_time(resource_state.get("mark"))
        if mark is None:
            continue
        if endpoint.strategy is Strategy.TIME_WINDOW:
            before = [i[KEYS[name]] for i in items[name] if parse_time(i[endpoint.cursor_field]) <= mark]
            missing = set(before) - set(stored)
            assert not missing, f"{name}: mark {format_time(mark)} is past {len(missing)} items not loaded"
        elif endpoint.strategy is Strategy.CHANGED_ROWS:
            for item in items[name]:
                updated = parse_time(item["timestamp_updated"])
                if updated < mark:
                    row = stored.get(item["id"])
                    assert row and row["timestamp_updated"] == updated, (
                        f"{name}: mark {format_time(mark)} is past the update of {item['id']} at {updated}, "
                        "which is not loaded"
                    )


def assert_local_state_runs_ahead_only_with_a_package_to_load(reader: Reader, workdir: Path) -> None:
    """Cursors in the local state that the warehouse does not have yet are only allowed while the package
    holding their rows waits to be loaded (the next run loads it first)."""
    state_file = working_dir(workdir) / "state.json" if working_dir(workdir) else None
    if state_file is None or not state_file.exists():
        return
    local = json.loads(state_file.read_text()).get("sources", {}).get("instantly", {}).get("resources", {})
    committed = (reader.committed_state() or {}).get("sources", {}).get("instantly", {}).get("resources", {})
    if local != committed:
        assert pending_packages(workdir), "the local cursors moved on without a package to load"


def table_contents(reader: Reader) -> dict[str, Counter]:
    """Every table the sync loads (the resources' tables and their child tables; not the analytics models
    the CLI derives from them) as a multiset of rows: child rows with their root item's key, `_dlt` ids
    aside."""
    contents = {}
    for table in sorted(reader.tables()):
        root = table.split("__", 1)[0]
        if root not in KEYS:
            continue
        columns = [
            c
            for c in reader.columns(table)
            if c not in ("_dlt_id", "_dlt_parent_id", "_dlt_root_id", "_dlt_load_id")
        ]
        selected = ", ".join(f"t.{c}" for c in columns)
        if root == table:
            sql = f"select {selected} from {{ds}}.{table} t"
        else:
            sql = (
                f"select r.{KEYS[root]}, {selected} from {{ds}}.{table} t "
                f"left join {{ds}}.{root} r on r._dlt_id = t._dlt_root_id"
            )
        contents[table] = Counter(tuple(map(repr, row)) for row in reader.query(sql))
    return contents


def assert_same_row_counts(resumed: Reader, reference: Reader) -> None:
    """Table by table, as many rows as a clean run of the same data loads (across destinations)."""
    for table, rows in table_contents(reference).items():
        count = resumed.count_rows(table) if rows else 0
        assert count == sum(rows.values()), f"{table}: {count} rows, a clean load has {sum(rows.values())}"


def assert_no_row_twice(reader: Reader) -> None:
    """No table the sync loads (child tables and the pipeline state included) holds a row id twice."""
    tables = [t for t in reader.tables() if t.split("__", 1)[0] in KEYS or t == "_dlt_pipeline_state"]
    for table in tables:
        (repeats,) = reader.query(f"select count(*) - count(distinct _dlt_id) from {{ds}}.{table}")[0]
        assert repeats == 0, f"{table}: {repeats} rows twice"


def assert_same_tables(resumed: Reader, reference: Reader) -> None:
    """Table by table, row for row, what a clean run of the same data loads."""
    got, expected = table_contents(resumed), table_contents(reference)
    for table, rows in expected.items():
        assert got.get(table) == rows, f"{table} differs from a clean load"
    for table in set(got) - set(expected):
        assert not got[table], f"{table}: rows no clean load has"


# ---------------------------------------------------------------------------------------- the workspace
def api_items(world: World) -> dict[str, list[dict[str, Any]]]:
    return {name: world.items(name) for name in RESOURCES}


def change_the_workspace(world: World, round_number: int) -> None:
    world.add("leads", 40)
    world.update("leads", 25)
    world.add("emails", 30)
    world.add("audit_logs", 20)
    world.update(
        "campaigns", ids=world.ids("campaigns")[:2], changes={"name": f"Renamed in round {round_number}"}
    )
    world.update("accounts", 3)
    time.sleep(1.1)  # the next walk starts in a later second (the API's Date header has whole seconds)


def kill_repeatedly(
    simulator: Simulator,
    args: list[str],
    env: dict[str, str],
    workdir: Path,
    kills: int,
    rng: random.Random,
    reader: Reader,
) -> list[Kill]:
    """Start the sync and SIGKILL it `kills` times, aiming at each target phase in turn (a run that ends
    before its kill just means the next one starts afresh); after each kill, check the committed cursors."""
    items = api_items(simulator.world)
    done: list[Kill] = []
    targets: list[str] = []
    for _ in range(3 * kills):
        if len(done) == kills:
            break
        if not targets:
            targets = rng.sample(KILL_TARGETS, len(KILL_TARGETS))
        child = SyncProcess(args, env, workdir).start()
        kill = kill_during(child, targets.pop(), simulator, rng)
        if kill is None:
            assert child.process.returncode == 0, child.stderr
            continue
        done.append(kill)
        assert_cursors_only_describe_loaded_data(reader, items)
        assert_local_state_runs_ahead_only_with_a_package_to_load(reader, workdir)
    return done


def crash_rounds(
    simulator: Simulator, workdir: Path, reader: Reader, rounds: int, kills_per_round: int, *extra_args: str
) -> list[Kill]:
    """Rounds of: change the workspace, kill the sync repeatedly, rerun it normally, compare with the API."""
    rng = random.Random(20260427)
    world = simulator.world
    args = run_args(workdir, "--resources", CORE_RESOURCES, *extra_args)
    killed_env = cli_env(simulator, **CHILD_SETTINGS)
    normal_env = cli_env(simulator, overlap_seconds=0)  # the default checkpoint: one slice
    kills: list[Kill] = []
    for round_number in range(rounds):
        if round_number:
            change_the_workspace(world, round_number)
        kills += kill_repeatedly(simulator, args, killed_env, workdir, kills_per_round, rng, reader)
        resumed = run_to_end(args, normal_env, workdir)
        assert resumed.process.returncode == 0, resumed.stderr
        assert_warehouse_equals_world(reader, world)
        assert_cursors_only_describe_loaded_data(reader, api_items(world))
        assert pending_packages(workdir) == []
        # killed extracts leave temporary package folders; the next run removes them
        normalize_folder = working_dir(workdir) / "normalize"
        assert sorted(p.name for p in normalize_folder.iterdir()) == [".version", "extracted"]
    return kills


def clean_load(simulator: Simulator, workdir: Path) -> Reader:
    """The same workspace loaded by one uninterrupted in-process sync into a fresh DuckDB file."""
    path = workdir / "clean.duckdb"
    run_sync(
        SyncOptions(
            target=Target(duckdb_path=str(path)),
            pipelines_dir=str(workdir / "pipelines"),
            resources=RESOURCES,
            progress_interval=0,
            source_args={"base_url": simulator.base_url, "api_key": simulator.api_key, **FAST_RETRIES},
        )
    )
    return Reader("duckdb", str(path))


# ------------------------------------------------------------------------------------------------ tests
def test_twenty_kills_across_extract_normalize_and_load_end_in_a_warehouse_equal_to_the_api(tmp_path):
    with Simulator(World(seed=4, sizes=CRASH_WORLD)) as simulator:
        simulator.faults.add(Fault(**SLOW_API))
        reader = Reader("duckdb", str(tmp_path / "warehouse.duckdb"))
        kills = crash_rounds(simulator, tmp_path, reader, 3, 7)
        simulator.faults.clear()
        clean = clean_load(simulator, tmp_path / "clean")
    assert_same_tables(reader, clean)
    phases = Counter(kill.phase for kill in kills)
    print(f"\n{len(kills)} kills; phase at the kill: {dict(phases)}")
    assert len(kills) >= 20
    assert {"extract", "normalize", "load"} <= set(phases)


def test_postgres_sync_killed_at_random_resumes_without_losing_or_doubling_rows(tmp_path, postgres_dataset):
    with Simulator(World(seed=5, sizes=CRASH_WORLD)) as simulator:
        simulator.faults.add(Fault(**SLOW_API))
        reader = Reader("postgres", POSTGRES_URL, postgres_dataset)
        args = ("--destination", "postgres", "--dataset", postgres_dataset)
        kills = crash_rounds(simulator, tmp_path, reader, 2, 4, *args)
        simulator.faults.clear()
        clean = clean_load(simulator, tmp_path / "clean")
    assert_same_row_counts(reader, clean)
    print(f"\n{len(kills)} kills; phase at the kill: {dict(Counter(kill.phase for kill in kills))}")
    assert len(kills) >= 8


@pytest.mark.parametrize("destination", ["duckdb", "postgres"])
@pytest.mark.parametrize("job", list(COMMITTED_UNRECORDED.values()), ids=list(COMMITTED_UNRECORDED))
def test_a_sync_killed_after_a_load_job_committed_unrecorded_resumes_with_each_row_once(
    tmp_path, request, destination, job
):
    """The kill falls after a job's rows committed, before dlt recorded the job done; resumed, dlt runs it
    again. The resumed run syncs only `audit_logs` (nothing new) so that no later slice re-merges, and hides,
    what the resumed package loaded."""
    table, file_format = job
    if destination == "postgres":
        dataset = request.getfixturevalue("postgres_dataset")
        reader = Reader("postgres", POSTGRES_URL, dataset)
    else:
        dataset = DATASET
        reader = Reader("duckdb", str(tmp_path / "warehouse.duckdb"))
    file_format = file_format or LOADER_FILE_FORMATS[destination]
    target = ("--dataset", dataset)
    with Simulator(World(seed=8, sizes=CRASH_WORLD)) as simulator:
        env = cli_env(simulator, overlap_seconds=0)
        killed = run_to_end(
            run_args(tmp_path, "--resources", CORE_RESOURCES, *target, destination=destination),
            {**env, KILL_AFTER_COMMIT: f"{table}.{file_format}"},
            tmp_path,
            module="tests.kill_after_commit",
        )
        assert killed.process.returncode == -signal.SIGKILL, killed.stderr
        (pending,) = pending_packages(tmp_path)
        package = working_dir(tmp_path) / "load" / "normalized" / pending
        (unrecorded,) = (package / "started_jobs").glob(f"{table}.*.{file_format}*")
        assert not (package / ".pending_transitions" / unrecorded.name).exists()

        resumed = run_to_end(
            run_args(tmp_path, "--resources", "audit_logs", *target, destination=destination), env, tmp_path
        )
        assert resumed.process.returncode == 0, resumed.stderr
        clean = clean_load(simulator, tmp_path / "clean")
        world = simulator.world
    assert (pending,) in reader.query("select load_id from {ds}._dlt_loads")
    assert_warehouse_equals_world(reader, world)
    assert_no_row_twice(reader)
    assert_same_row_counts(reader, clean)


def test_a_long_backfill_killed_late_loses_at_most_one_checkpoint_interval(tmp_path):
    checkpoint_seconds = 1.0
    world = World(seed=6, sizes={"emails": 2350})  # 24 pages of GET /emails, paced to 4 per second
    limits = RateLimits(emails_per_minute=20, time_scale=15)  # the API's own limit, 15 times faster: 5/s
    with Simulator(world, rate_limits=limits) as simulator:
        # A steady 4/s stays inside the server's window across the kill too: a fresh process's limiter
        # cannot know what the killed one sent, the server's window still holds it.
        env = cli_env(
            simulator,
            checkpoint_seconds=checkpoint_seconds,
            max_requests_per_second=4,
            emails_requests_per_minute=100_000,
        )
        args = run_args(tmp_path, "--resources", "emails")
        reader = Reader("duckdb", str(tmp_path / "warehouse.duckdb"))

        child = SyncProcess(args, env, tmp_path).start()
        while len([r for r in simulator.requests_to(EMAILS_PATH) if r.status == 200]) < 18:
            assert child.running, child.stderr
            time.sleep(0.005)
        killed_at = time.time()
        child.kill()
        before_kill = [r for r in simulator.requests_to(EMAILS_PATH) if r.status == 200]
        rows_at_kill = reader.count_rows("emails")
        simulator.reset_requests()

        resumed = run_to_end(args, env, tmp_path)
        assert resumed.process.returncode == 0, resumed.stderr
        after = [r for r in simulator.requests_to(EMAILS_PATH) if r.status == 200]

    assert sorted(reader.rows_by_key("emails")) == sorted(world.ids("emails"))
    assert 429 not in {r.status for r in simulator.requests}
    first_asked = {r.query.get("starting_after"): r.time for r in reversed(before_kill)}
    repeated = [r for r in after if r.query.get("starting_after") in first_asked]
    assert after[0].query.get("starting_after"), "the resumed run started the backfill over"
    # one checkpoint interval of work, measured: the most pages one committed slice held
    rows_per_load = reader.query("select count(*) from {ds}.emails group by _dlt_load_id")
    pages_per_interval = math.ceil(max(count for (count,) in rows_per_load) / 100)
    redone_since = min((first_asked[r.query.get("starting_after")] for r in repeated), default=killed_at)
    print(
        f"\nkilled after {len(before_kill)} of {len(before_kill) + len(after) - len(repeated)} pages; "
        f"{rows_at_kill} of the {len(before_kill) * 100} rows fetched were in the warehouse; the resumed run "
        f"repeated {len(repeated)} requests, the last {killed_at - redone_since:.2f} s of the killed run; "
        f"one checkpoint interval is {checkpoint_seconds} s, {pages_per_interval} pages"
    )
    assert len(repeated) <= pages_per_interval
    assert killed_at - redone_since <= checkpoint_seconds + 0.5  # the interval, plus one paced request
    # what was fetched is loaded, pending (loaded by the resumed run without a request), or repeated
    assert rows_at_kill >= (len(before_kill) - 2 * pages_per_interval) * 100


def test_a_crash_before_the_first_load_keeps_its_package_and_cursors_which_the_rerun_loads_first(tmp_path):
    """dlt wipes a working folder whose dataset does not exist yet; the pending package must load first."""
    with Simulator(World(seed=7, sizes={"leads": 600, "emails": 150})) as simulator:
        simulator.faults.add(Fault(**SLOW_API))
        args = run_args(tmp_path, "--resources", "leads,emails")
        env = cli_env(simulator, **CHILD_SETTINGS)
        child = SyncProcess(args, env, tmp_path).start()
        kill = kill_during(child, "normalize", simulator, random.Random(7))  # the first package, extracted
        assert kill is not None and loaded_packages(tmp_path) == 0
        reader = Reader("duckdb", str(tmp_path / "warehouse.duckdb"))
        schemas = reader.query("select schema_name from duckdb_schemas()")
        assert (DATASET,) not in schemas  # the dataset does not exist yet
        (pending,) = pending_packages(tmp_path)
        state = json.loads((working_dir(tmp_path) / "state.json").read_text())
        cursor = state["sources"]["instantly"]["resources"]["leads"]["walk"]["cursor"]
        simulator.reset_requests()

        rerun = run_to_end(args, cli_env(simulator), tmp_path)
        assert rerun.process.returncode == 0, rerun.stderr
        first_leads_request = simulator.requests_to("/api/v2/leads/list")[0]
        world = simulator.world
    assert "discarded" not in rerun.stderr
    assert first_leads_request.body["starting_after"] == cursor  # resumed, not started over
    loads = [
        load_id for (load_id,) in reader.query("select load_id from {ds}._dlt_loads order by inserted_at")
    ]
    assert loads[0] == pending and len(loads) > 1  # the crashed run's package first, then new slices
    assert sorted(reader.rows_by_key("leads")) == sorted(world.ids("leads"))
    assert sorted(reader.rows_by_key("emails")) == sorted(world.ids("emails"))


def test_a_dataset_dropped_behind_the_pipelines_back_is_synced_from_the_start_with_a_warning(
    duckdb_warehouse, world, caplog
):
    duckdb_warehouse.sync(resources=["leads", "emails"])
    Path(duckdb_warehouse.target.duckdb_path).unlink()  # the warehouse is gone; the local state is not
    with caplog.at_level(logging.WARNING, logger="pipelines.sync"):
        duckdb_warehouse.sync(resources=["leads", "emails"])
    assert "does not exist" in caplog.text and "syncs from the start" in caplog.text
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))
    assert duckdb_warehouse.keys("emails") == sorted(world.ids("emails"))
