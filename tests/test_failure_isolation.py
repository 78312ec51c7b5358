"""One failing resource fails alone: every other table loads, the report names it, the next run resumes it.
A parent deleted before its fan-out is skipped; a key or plan refused mid-run stops the run, writing nothing.
"""

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from pipelines.messages import ExitCode
from sources.instantly.arrow_rows import ArrowTables
from sources.instantly.endpoints import ENDPOINTS, ENDPOINTS_BY_NAME, FAN_OUT_PARENTS, Kind
from sources.instantly.errors import AuthError
from sources.instantly.items import ItemPreparer
from sources.simulator import Fault, Simulator, World

from .conftest import cli_args, duckdb_warehouse_for, run_cli

EMAILS_PATH = "/api/v2/emails"
MAPPINGS = "account_campaign_mappings"
ROOT_LISTS = [e.name for e in ENDPOINTS if e.kind is Kind.LIST and e.fan_out is None]


def _key(name: str) -> str:
    return next(e.primary_key for e in ENDPOINTS if e.name == name)


def _mapping_keys(warehouse) -> list[str]:
    return sorted(
        row[0]
        for row in warehouse.query(f"select account_email || '&' || campaign_id from {{ds}}.{MAPPINGS}")
    )


def test_an_endpoint_down_for_the_whole_run_fails_alone_and_every_other_table_loads(
    warehouse, simulator, world
):
    simulator.faults.add(Fault(path=EMAILS_PATH, kind="status", status=503))
    result = warehouse.sync(max_attempts=2)
    assert list(result.progress.failed()) == ["emails"]
    assert "HTTP 503" in result.progress.failed()["emails"]
    for name in ROOT_LISTS:
        if name != "emails":
            assert warehouse.keys(name, _key(name)) == sorted(world.ids(name)), name
    assert _mapping_keys(warehouse) == sorted(world.ids(MAPPINGS))
    assert warehouse.count("campaign_analytics") == len(world.ids("campaigns"))

    simulator.faults.clear()
    rerun = warehouse.sync()
    assert rerun.progress.failed() == {}
    assert warehouse.keys("emails") == sorted(world.ids("emails"))


def test_a_resource_that_fails_midway_resumes_next_run_after_its_last_committed_page(
    duckdb_warehouse, simulator, world
):
    simulator.faults.add(Fault(path=EMAILS_PATH, kind="status", status=503, after_requests=1))
    duckdb_warehouse.sync(
        resources=["emails", "campaigns"], max_attempts=2, emails_requests_per_minute=10_000
    )
    assert duckdb_warehouse.count("emails") == 100
    stored = duckdb_warehouse.state("emails")["walk"]["cursor"]
    newest = "select id from {ds}.emails order by timestamp_created desc limit 1"
    assert duckdb_warehouse.query(newest) == [(stored,)]

    simulator.faults.clear()
    simulator.reset_requests()
    duckdb_warehouse.sync(resources=["emails"], emails_requests_per_minute=10_000)
    assert simulator.requests_to(EMAILS_PATH)[0].query["starting_after"] == stored
    assert duckdb_warehouse.query("select count(*), count(distinct id) from {ds}.emails") == [(140, 140)]


def test_a_parent_deleted_before_its_fan_out_is_skipped_and_counted(warehouse, simulator, world):
    gone = world.ids("accounts")[2]

    def delete_an_account_once_listed(body: bytes) -> bytes:
        world.remove("accounts", [gone])
        return body

    simulator.faults.add(Fault(path="/api/v2/accounts", kind="rewrite", body=delete_an_account_once_listed))
    result = warehouse.sync(resources=["accounts", MAPPINGS])
    stats = result.progress.of(MAPPINGS)
    assert (stats.failed, stats.parents_skipped) == (None, 1)
    assert gone in warehouse.keys("accounts", "email")
    assert _mapping_keys(warehouse) == sorted(world.ids(MAPPINGS))
    assert not any(key.startswith(f"{gone}&") for key in _mapping_keys(warehouse))


def test_a_parent_gone_mid_sync_exits_0_with_a_warning_and_a_count_in_sync_runs(
    tmp_path, cli_env, simulator, world
):
    """A deletion in a live workspace is not a failure: the data is right, so cron stays quiet."""
    gone = world.ids("accounts")[0]
    simulator.faults.add(Fault(path=f"/api/v2/account-campaign-mappings/{gone}", kind="status", status=404))
    done = run_cli(*cli_args(tmp_path, "--resources", f"accounts,{MAPPINGS}"), env=cli_env, cwd=tmp_path)
    assert done.returncode == ExitCode.OK, done.stderr
    assert (
        f"instantly-sync: {MAPPINGS}: warning: skipped 1 parent item(s) deleted during the sync"
        in done.stderr
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        rows = connection.execute(
            f"select parents_skipped from instantly.sync_runs where resource = '{MAPPINGS}'"
        )
        assert rows.fetchall() == [(1,)]


def test_a_404_naming_the_route_fails_the_fan_out_instead_of_skipping_each_parent(
    duckdb_warehouse, simulator
):
    route_gone = "Route GET:/api/v2/account-campaign-mappings/x not found"
    simulator.faults.add(
        Fault(path="/api/v2/account-campaign-mappings/*", kind="status", status=404, body=route_gone)
    )
    result = duckdb_warehouse.sync(resources=["accounts", MAPPINGS])
    stats = result.progress.of(MAPPINGS)
    assert stats.parents_skipped == 0 and "Route GET" in stats.failed
    assert (
        len(simulator.requests_to(f"/api/v2/account-campaign-mappings/{simulator.world.ids('accounts')[0]}"))
        == 1
    )


def test_a_fan_out_whose_parent_failed_is_reported_failed_too(duckdb_warehouse, simulator):
    simulator.faults.add(Fault(path="/api/v2/accounts", kind="status", status=503))
    result = duckdb_warehouse.sync(resources=["accounts", MAPPINGS, "campaigns"], max_attempts=2)
    failed = result.progress.failed()
    assert set(failed) == {"accounts", MAPPINGS}
    assert failed[MAPPINGS].startswith("its parent accounts failed")
    assert FAN_OUT_PARENTS[MAPPINGS] == "accounts"


def test_an_answer_without_an_items_list_fails_that_resource_alone(duckdb_warehouse, simulator, world):
    simulator.faults.add(Fault(path="/api/v2/lead-lists", kind="error_200", body={"data": []}))
    result = duckdb_warehouse.sync(resources=["lead_lists", "campaigns"])
    assert "no `items` list" in result.progress.failed()["lead_lists"]
    assert duckdb_warehouse.keys("campaigns") == sorted(world.ids("campaigns"))


@pytest.mark.parametrize("refusal", ["key_revoked", "plan_lapsed"])
def test_a_key_or_plan_refused_mid_run_stops_the_run_and_writes_nothing_of_it(
    duckdb_warehouse, simulator, world, refusal
):
    def refuse_from_now_on(body: bytes) -> bytes:
        if refusal == "key_revoked":
            simulator.revoke_key(simulator.api_key)
        else:
            world.plan_active = False
        return body

    # leads takes three pages: the first one answered is the last the key or plan is good for
    simulator.faults.add(Fault(path="/api/v2/leads/list", kind="rewrite", body=refuse_from_now_on, times=1))
    with pytest.raises(Exception) as excinfo:
        duckdb_warehouse.sync(resources=["campaigns", "leads", "accounts"])
    error = excinfo.value
    while error is not None and not isinstance(error, AuthError):
        error = error.__cause__ or error.__context__
    assert error is not None and error.status == (401 if refusal == "key_revoked" else 402)
    with duckdb.connect(duckdb_warehouse.target.duckdb_path) as connection:
        tables = connection.execute("select table_name from information_schema.tables").fetchall()
    assert [name for (name,) in tables if not name.startswith("_dlt")] == []


def test_a_run_with_one_failed_resource_exits_7_naming_it_on_stderr_and_in_sync_runs(
    tmp_path, cli_env, simulator, world
):
    simulator.faults.add(Fault(path="/api/v2/audit-logs", kind="status", status=502))
    env = {**cli_env, "SOURCES__INSTANTLY__MAX_ATTEMPTS": "2"}
    args = cli_args(tmp_path, "--resources", "audit_logs,campaigns,leads", "--json")
    done = run_cli(*args, env=env, cwd=tmp_path)
    assert done.returncode == ExitCode.RESOURCES_FAILED, done.stderr
    failures = [line for line in done.stderr.splitlines() if "FAILED" in line]
    assert len(failures) == 1 and failures[0].startswith(
        "instantly-sync: audit_logs FAILED: from GET /api/v2/"
    )
    assert "HTTP 502" in failures[0] and "the next run resumes it" in failures[0]
    report = json.loads(done.stdout)
    statuses = {row["resource"]: row["status"] for row in report["workspaces"][0]["resources"]}
    assert statuses == {"audit_logs": "failed", "campaigns": "ok", "leads": "ok"}
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        rows = connection.execute("select resource, status, error from instantly.sync_runs").fetchall()
        leads = connection.execute("select count(*) from instantly.leads").fetchone()[0]
    assert {(r, s) for r, s, _ in rows} == {("audit_logs", "failed"), ("campaigns", "ok"), ("leads", "ok")}
    assert "HTTP 502" in next(e for r, _, e in rows if r == "audit_logs")
    assert leads == len(world.ids("leads"))

    simulator.faults.clear()
    rerun = run_cli(*args, env=env, cwd=tmp_path)
    assert rerun.returncode == ExitCode.OK, rerun.stderr
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        audit = connection.execute("select count(*), count(distinct id) from instantly.audit_logs").fetchone()
    assert audit == (len(world.ids("audit_logs")),) * 2


def test_a_bug_of_ours_while_preparing_a_page_resumes_at_that_page_next_run(
    duckdb_warehouse, simulator, world, monkeypatch
):
    """The cursor moves before a page's rows are yielded; failing before they were, it moves back."""
    second_page_first_id = world.ids("leads")[100]
    prepare = ItemPreparer.prepare

    def failing_on_the_second_page(self, items, needs_cleaning):
        if items and items[0].get("id") == second_page_first_id:
            raise RuntimeError("a bug of ours")
        return prepare(self, items, needs_cleaning)

    monkeypatch.setattr(ItemPreparer, "prepare", failing_on_the_second_page)
    result = duckdb_warehouse.sync(resources=["leads", "campaigns"])
    assert result.progress.failed()["leads"] == "RuntimeError: a bug of ours"
    assert duckdb_warehouse.state("leads")["walk"]["cursor"] == world.ids("leads")[99]
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads")[:100])

    monkeypatch.setattr(ItemPreparer, "prepare", prepare)
    duckdb_warehouse.sync(resources=["leads"])
    assert duckdb_warehouse.query("select count(*), count(distinct id) from {ds}.leads") == [(230, 230)]


def test_batches_that_cannot_be_built_leave_the_walk_where_the_slice_began(
    duckdb_warehouse, simulator, world, monkeypatch
):
    def failing(self, items):
        raise RuntimeError("cannot build")

    monkeypatch.setattr(ArrowTables, "build", failing)
    result = duckdb_warehouse.sync(resources=["leads", "campaigns"])
    assert result.progress.failed()["leads"] == "RuntimeError: cannot build"
    assert duckdb_warehouse.state("leads") == {}
    monkeypatch.undo()
    duckdb_warehouse.sync(resources=["leads"])
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))


def test_a_daily_report_with_one_window_gone_is_not_recorded_as_fetched_for_that_batch(tmp_path):
    world = World(seed=4, sizes={"accounts": 5, "campaigns": 2})
    start = (datetime.now(UTC).date() - timedelta(days=99)).isoformat()  # four 31-day windows a batch
    with Simulator(world) as simulator:
        warehouse = duckdb_warehouse_for(tmp_path, simulator)
        path = ENDPOINTS_BY_NAME["account_analytics_daily"].path
        simulator.faults.add(Fault(path=path, kind="status", status=404, after_requests=1, times=1))
        result = warehouse.sync(resources=["account_analytics_daily"], start_date=start)

        def emails(request) -> frozenset[str]:
            value = request.query["emails"]
            return frozenset(value if isinstance(value, list) else value.split(","))

        requests = simulator.requests_to(path)
        refused = next(i for i, r in enumerate(requests) if r.status == 404)
        gone = emails(requests[refused])
        assert result.progress.of("account_analytics_daily").parents_skipped == len(gone)
        assert [r for r in requests[refused + 1 :] if emails(r) == gone] == []  # its later windows
        fetched = warehouse.state("account_analytics_daily")["fetched_through"]
        assert set(fetched) == set(world.ids("accounts")) - gone

        warehouse.sync(resources=["account_analytics_daily"], start_date=start)
        expected = world.account_daily(world.ids("accounts"), start, datetime.now(UTC).date().isoformat())
        assert warehouse.count("account_analytics_daily") == len(expected)


def test_a_fan_out_whose_parent_walk_ended_early_says_so(duckdb_warehouse, simulator):
    simulator.world.add("accounts", 150)  # two pages
    simulator.faults.add(Fault(path="/api/v2/accounts", kind="stuck_cursor"))
    result = duckdb_warehouse.sync(resources=["accounts", MAPPINGS])
    assert result.progress.of("accounts").ended_early
    assert result.progress.of(MAPPINGS).warnings == [
        "its parent accounts ended its walk early: only its items fetched have rows"
    ]
