"""Change history (`destinations/history.py`): a version per key when a tracked value changes, written after
each load on DuckDB and Postgres, idempotent across crashes, per workspace in shared datasets; and the two
models built on it. Real syncs against the simulator; the world is changed between them."""

import statistics
from datetime import UTC, date, datetime, timedelta

import pytest

from destinations import Target, history
from destinations.models import refresh
from pipelines.sync import make_pipeline
from sources.simulator import Simulator, World

from .conftest import Warehouse
from .test_workspaces import RESOURCES as WORKSPACE_RESOURCES
from .test_workspaces import configure, reader, sync_all

SYNCED = ["leads", "campaigns", "accounts"]
KEYS = {"leads": "id", "campaigns": "id", "accounts": "email"}


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _versions(warehouse: Warehouse, table: str, key: str, column: str) -> list[tuple]:
    """(key, value of column, valid_from, valid_to) per version of `table`'s history, in order."""
    return warehouse.query(
        f"select {key}, {column}, valid_from, valid_to from {{ds}}.{table}_history order by {key}, valid_from"
    )


def _execute(warehouse: Warehouse, sql: str) -> None:
    with make_pipeline(warehouse.target, warehouse.pipelines_dir).sql_client() as client:
        client.execute_sql(sql.format(ds=client.fully_qualified_dataset_name()))


def _of(rows: list[tuple], key: str) -> list[tuple]:
    return [row[1:] for row in rows if row[0] == key]


# ------------------------------------------------------------------------------------------ versions
def test_the_first_sync_writes_one_open_version_per_row(warehouse, world):
    warehouse.sync(resources=SYNCED)
    for table, key in KEYS.items():
        rows = warehouse.query(
            f"select {key}, count(*), count(valid_to) from {{ds}}.{table}_history group by {key}"
        )
        assert sorted(row[0] for row in rows) == sorted(world.ids(table)), table
        assert {row[1:] for row in rows} == {(1, 0)}, table


def test_the_first_version_starts_at_the_rows_timestamp_updated(warehouse, world):
    warehouse.sync(resources=["leads"])
    found = dict(warehouse.query("select id, valid_from from {ds}.leads_history"))
    assert found == {lead["id"]: _time(lead["timestamp_updated"]) for lead in world.items("leads")}


def test_a_changed_interest_status_writes_a_new_version_and_closes_the_old_one(warehouse, world):
    warehouse.sync(resources=["leads"])
    chosen = [lead["id"] for lead in world.items("leads") if lead.get("lt_interest_status") != 1][:3]
    changed = world.update("leads", ids=chosen, changes={"lt_interest_status": 1})
    warehouse.sync(resources=["leads"])
    rows = _versions(warehouse, "leads", "id", "lt_interest_status")
    for lead in changed:
        (old, new) = _of(rows, lead["id"])
        assert new == (1, _time(lead["timestamp_updated"]), None)
        assert old[2] == new[1]  # the old version ends where the new one begins
    assert len(rows) == len(world.ids("leads")) + len(chosen)  # nobody else got a version


def test_a_lead_changed_only_in_an_untracked_field_gets_no_new_version(warehouse, world):
    warehouse.sync(resources=["leads"])
    chosen = world.ids("leads")[:4]
    second = world.update("leads", ids=chosen, changes={"first_name": "Renamed", "email_open_count": 99})
    result = warehouse.sync(resources=["leads"])
    assert result.rows_loaded["leads"] == len(second)  # the leads were written, their history was not
    assert warehouse.count("leads_history") == len(world.ids("leads"))


def test_a_value_going_from_null_to_a_value_is_a_change(warehouse, world):
    warehouse.sync(resources=["leads"])
    chosen = [lead["id"] for lead in world.items("leads") if lead.get("lt_interest_status") is None][:2]
    assert chosen
    world.update("leads", ids=chosen, changes={"lt_interest_status": -1})
    warehouse.sync(resources=["leads"])
    rows = _versions(warehouse, "leads", "id", "lt_interest_status")
    assert [[version[0] for version in _of(rows, key)] for key in chosen] == [[None, -1]] * len(chosen)


def test_campaign_status_changes_are_versioned_and_renames_are_not(warehouse, world):
    warehouse.sync(resources=["campaigns"])
    paused, renamed = world.ids("campaigns")[:2]
    world.update("campaigns", ids=[paused], changes={"status": 2})
    world.update("campaigns", ids=[renamed], changes={"name": "A new name"})
    warehouse.sync(resources=["campaigns"])
    rows = _versions(warehouse, "campaigns", "id", "status")
    assert [version[0] for version in _of(rows, paused)][-1] == 2
    assert len(_of(rows, paused)) == 2 and len(_of(rows, renamed)) == 1
    assert len(rows) == len(world.ids("campaigns")) + 1


def test_account_warmup_score_and_status_changes_are_versioned_and_names_are_not(warehouse, world):
    warehouse.sync(resources=["accounts"])
    scored, suspended, renamed = world.ids("accounts")[:3]
    world.update("accounts", ids=[scored], changes={"stat_warmup_score": 12.5})
    world.update("accounts", ids=[suspended], changes={"warmup_status": -3})
    world.update("accounts", ids=[renamed], changes={"first_name": "Someone"})
    warehouse.sync(resources=["accounts"])
    rows = warehouse.query(
        "select email, stat_warmup_score, warmup_status, valid_to from {ds}.accounts_history "
        "order by valid_from"
    )
    assert [(score, to) for email, score, _, to in rows if email == scored][-1] == (12.5, None)
    assert [(status, to) for email, _, status, to in rows if email == suspended][-1] == (-3, None)
    assert len([row for row in rows if row[0] == renamed]) == 1
    assert len(rows) == len(world.ids("accounts")) + 2


def test_a_change_the_api_did_not_stamp_starts_at_the_load_not_before_the_open_version(warehouse, world):
    warehouse.sync(resources=["accounts"])
    (account,) = world.ids("accounts")[:1]
    (before,) = world.update("accounts", ids=[account], changes={"stat_warmup_score": 1.0})
    warehouse.sync(resources=["accounts"])
    # the score moves again, but timestamp_updated stays where it was (a recomputed score)
    world.update(
        "accounts",
        ids=[account],
        changes={"stat_warmup_score": 2.0, "timestamp_updated": before["timestamp_updated"]},
    )
    warehouse.sync(resources=["accounts"])
    rows = warehouse.query(
        f"select stat_warmup_score, valid_from, valid_to from {{ds}}.accounts_history "
        f"where email = '{account}' order by valid_from"
    )
    (loaded_at,) = warehouse.query("select max(inserted_at) from {ds}._dlt_loads")[0]
    assert [row[0] for row in rows][-2:] == [1.0, 2.0]
    assert rows[-1][1] == loaded_at and rows[-2][2] == loaded_at
    assert rows[-2][1] == _time(before["timestamp_updated"]) < loaded_at


# ------------------------------------------------------------------------------------- crash safety
def test_a_history_step_that_fails_midway_writes_nothing_and_the_next_run_writes_it(
    warehouse, world, monkeypatch
):
    warehouse.sync(resources=["leads"])
    chosen = [lead["id"] for lead in world.items("leads") if lead.get("status") != 3][:5]
    world.update("leads", ids=chosen, changes={"status": 3})
    original, calls = history._write_versions, []

    def fails_once_after_writing(*args, **kwargs):
        written = original(*args, **kwargs)  # versions closed and inserted, bookkeeping not yet
        calls.append(written)
        if len(calls) == 1:
            raise RuntimeError("killed between the versions and the bookkeeping")
        return written

    monkeypatch.setattr(history, "_write_versions", fails_once_after_writing)
    warehouse.sync(resources=["leads"])
    assert calls[0] == len(chosen)
    assert warehouse.count("leads_history") == len(world.ids("leads"))  # rolled back whole
    assert warehouse.query("select count(*) from {ds}.leads_history where valid_to is not null") == [(0,)]

    warehouse.sync(resources=["leads"])  # nothing new in the source: the unprocessed load is taken up
    rows = _versions(warehouse, "leads", "id", "status")
    assert len(rows) == len(world.ids("leads")) + len(chosen)
    assert all([version[0] for version in _of(rows, key)][-1] == 3 for key in chosen)
    assert warehouse.query("select count(*) from {ds}.leads_history where valid_to is not null") == [
        (len(chosen),)
    ]


def test_processing_the_same_loads_again_writes_nothing(warehouse, world):
    warehouse.sync(resources=SYNCED)
    world.update("leads", ids=world.ids("leads")[:3], changes={"lt_interest_status": 2})
    warehouse.sync(resources=SYNCED)
    before = {table: warehouse.query(f"select * from {{ds}}.{table}_history") for table in SYNCED}
    _execute(warehouse, "delete from {ds}._instantly_history_loads")  # as if no load had been processed
    warehouse.sync(resources=SYNCED)
    for table in SYNCED:
        after = warehouse.query(f"select * from {{ds}}.{table}_history")
        assert sorted(after, key=repr) == sorted(before[table], key=repr), table


def test_every_completed_load_is_processed_once_per_history_table(warehouse):
    warehouse.sync(resources=SYNCED)
    warehouse.sync(resources=SYNCED)
    loads = {row[0] for row in warehouse.query("select load_id from {ds}._dlt_loads where status = 0")}
    recorded = warehouse.query("select table_name, load_id from {ds}._instantly_history_loads")
    assert sorted(recorded) == sorted((f"{table}_history", load) for table in SYNCED for load in loads)


def test_history_off_writes_no_history_tables(warehouse, world, monkeypatch):
    monkeypatch.setenv("SOURCES__INSTANTLY__HISTORY", "false")
    warehouse.sync(resources=SYNCED)
    tables = warehouse.tables()
    assert not {f"{table}_history" for table in SYNCED} & tables
    assert "leads" in tables


def test_a_table_whose_resource_was_not_synced_gets_no_history(warehouse):
    warehouse.sync(resources=["campaigns"])
    tables = warehouse.tables()
    assert "campaigns_history" in tables and not {"leads_history", "accounts_history"} & tables


# -------------------------------------------------------------------------------------- workspaces
@pytest.fixture(params=["duckdb", "postgres"])
def shared_target(request: pytest.FixtureRequest, tmp_path) -> Target:
    if request.param == "duckdb":
        return Target(destination="duckdb", duckdb_path=str(tmp_path / "warehouse.duckdb"))
    from .conftest import POSTGRES_URL

    dataset = request.getfixturevalue("postgres_dataset")
    return Target(destination="postgres", dataset=dataset, postgres_credentials=POSTGRES_URL)


def test_in_a_shared_dataset_each_workspace_keeps_its_own_history_of_the_same_ids(
    monkeypatch, shared_target, tmp_path
):
    sizes = {"campaigns": 3, "accounts": 4, "leads": 60}
    one, two = World(seed=41, sizes=sizes), World(seed=41, sizes=sizes)
    two.org_id = "a-twin-organization"
    with Simulator(one, api_key="key-one") as first, Simulator(two, api_key="key-two") as second:
        configure(monkeypatch, {"one": first, "two": second})
        assert sync_all(shared_target, tmp_path).exit_code == 0
        lead = one.ids("leads")[0]
        assert lead in two.ids("leads")
        one.update("leads", ids=[lead], changes={"lt_interest_status": 4})
        assert sync_all(shared_target, tmp_path).exit_code == 0
        warehouse = reader(shared_target, tmp_path, first)
        found = warehouse.query(
            "select workspace_name, count(*), count(valid_to) from {ds}.leads_history "
            f"where id = '{lead}' group by 1 order by 1"
        )
        assert found == [("one", 2, 1), ("two", 1, 0)]
        for table in WORKSPACE_RESOURCES:
            per_workspace = warehouse.query(
                f"select workspace_name, count(*) from {{ds}}.{table}_history where valid_to is null "
                "group by 1 order by 1"
            )
            assert per_workspace == [("one", len(one.ids(table))), ("two", len(two.ids(table)))], table


# ------------------------------------------------------------------------------------------ models
def _hours(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None or later < earlier:
        return None
    return (later - earlier).total_seconds() / 3600


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _positive(code: int | None) -> bool:
    return code is not None and 1 <= code <= 4


def test_lead_status_transitions_time_first_contact_to_reply_and_to_interested(warehouse, world):
    warehouse.sync(resources=["leads", "campaigns"])
    first = {lead["id"]: lead for lead in world.items("leads")}
    chosen = [
        lead["id"]
        for lead in first.values()
        if lead.get("timestamp_last_contact") and not _positive(lead.get("lt_interest_status"))
    ][:6]
    updated = {
        lead["id"]: lead for lead in world.update("leads", ids=chosen, changes={"lt_interest_status": 1})
    }
    warehouse.sync(resources=["leads", "campaigns"])
    refresh(make_pipeline(warehouse.target, warehouse.pipelines_dir), ["lead_status_transitions"])

    groups: dict[str | None, list[dict]] = {}
    for lead_id, lead in first.items():
        contact = _time(lead.get("timestamp_last_contact"))
        reply = _time(lead.get("timestamp_last_reply")) or _time(lead["timestamp_updated"])
        if lead_id in updated:  # interested since its second version
            interested_at = _time(updated[lead_id]["timestamp_updated"])
        elif _positive(lead.get("lt_interest_status")):  # interested when its history began
            interested_at = _time(lead.get("timestamp_last_interest_change")) or _time(
                lead["timestamp_updated"]
            )
        else:
            interested_at = None
        replied = (lead.get("email_reply_count") or 0) > 0
        groups.setdefault(lead.get("campaign"), []).append(
            {
                "contacted": contact is not None,
                "replied": replied,
                "interested": interested_at is not None,
                "to_reply": _hours(reply, contact) if replied else None,
                "to_interested": _hours(interested_at, contact),
            }
        )
    names = {campaign["id"]: campaign["name"] for campaign in world.items("campaigns")}
    expected = {
        campaign: (
            names.get(campaign),
            len(leads),
            sum(lead["contacted"] for lead in leads),
            sum(lead["replied"] for lead in leads),
            sum(lead["interested"] for lead in leads),
            sum(lead["to_reply"] is not None for lead in leads),
            _median([lead["to_reply"] for lead in leads]),
            sum(lead["to_interested"] is not None for lead in leads),
            _median([lead["to_interested"] for lead in leads]),
        )
        for campaign, leads in groups.items()
    }
    found = warehouse.query(
        "select campaign_id, campaign_name, leads, contacted, replied, interested, timed_replies, "
        "median_hours_to_reply, timed_interested, median_hours_to_interested "
        "from {ds}.lead_status_transitions"
    )
    rows = {row[0]: row[1:] for row in found}
    assert set(rows) == set(expected)
    for campaign, row in rows.items():
        counts, medians = expected[campaign][:6] + expected[campaign][7:8], expected[campaign][6::2]
        assert row[:6] + row[7:8] == counts, campaign
        assert row[6::2] == pytest.approx(medians), campaign
    assert sum(row[2] for row in found) == len(first)
    assert any(row[8] for row in found)


def _today() -> date:
    return datetime.now(UTC).date()


def test_account_health_trend_carries_each_version_forward_and_shows_whose_score_fell(warehouse, world):
    today = _today()
    old = [
        account
        for account in world.items("accounts")
        if account.get("stat_warmup_score") is not None
        and _time(account["timestamp_updated"]).date() < today - timedelta(days=8)
    ]
    assert old, "the world should have accounts last updated over a week ago"
    fell = old[0]
    warehouse.sync(resources=["accounts"])
    world.update(
        "accounts", ids=[fell["email"]], changes={"stat_warmup_score": fell["stat_warmup_score"] - 10}
    )
    warehouse.sync(resources=["accounts"])
    refresh(make_pipeline(warehouse.target, warehouse.pipelines_dir), ["account_health_trend"])

    for account in world.items("accounts"):
        start = max(_time(account["timestamp_updated"]).date(), today - timedelta(days=89))
        if account["email"] == fell["email"]:
            start = max(_time(fell["timestamp_updated"]).date(), today - timedelta(days=89))
        rows = warehouse.query(
            f"select date, warmup_score, warmup_status from {{ds}}.account_health_trend "
            f"where email = '{account['email']}' order by date"
        )
        assert [row[0] for row in rows] == [
            start + timedelta(days=n) for n in range((today - start).days + 1)
        ]
        assert {row[2] for row in rows} == {account.get("warmup_status")}
        if account["email"] != fell["email"]:
            assert {row[1] for row in rows} == {account.get("stat_warmup_score")}
    fallen = warehouse.query(
        "select email, warmup_score, warmup_score_change_1d, warmup_score_change_7d "
        "from {ds}.account_health_trend where date = "
        "cast(current_timestamp at time zone 'UTC' as date) and warmup_score_change_7d < 0"
    )
    assert fallen == [(fell["email"], fell["stat_warmup_score"] - 10, -10.0, -10.0)]
