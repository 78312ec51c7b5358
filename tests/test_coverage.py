"""Every readable entity reaches the warehouse: per-parent lists, analytics, the workspace, enum labels."""

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from sources.instantly.endpoints import ENDPOINTS_BY_NAME
from sources.simulator import Fault, Simulator, World

from .conftest import duckdb_warehouse_for

ACCOUNT_DAILY = ENDPOINTS_BY_NAME["account_analytics_daily"].path
CAMPAIGN_DAILY = ENDPOINTS_BY_NAME["campaign_analytics_daily"].path
FIGURES = ("sent", "opened", "replies")


def _today() -> date:
    return datetime.now(UTC).date()


def _by_date(rows: list[dict]) -> dict[str, tuple]:
    return {row["date"][:10]: tuple(row.get(f) for f in FIGURES) for row in rows}


def _loaded_daily(warehouse, campaign_id: str) -> dict[str, tuple]:
    rows = warehouse.query(
        f"select date, {', '.join(FIGURES)} from {{ds}}.campaign_analytics_daily "
        f"where campaign_id = '{campaign_id}'"
    )
    return {str(row[0])[:10]: tuple(row[1:]) for row in rows}


def test_account_campaign_mappings_load_one_row_per_account_and_campaign(duckdb_warehouse, world):
    duckdb_warehouse.sync(resources=["account_campaign_mappings"])
    loaded = duckdb_warehouse.query(
        "select account_email || '&' || campaign_id from {ds}.account_campaign_mappings"
    )
    assert sorted(row[0] for row in loaded) == sorted(world.ids("account_campaign_mappings"))
    tables = {row[0] for row in duckdb_warehouse.query("select table_name from information_schema.tables")}
    assert "accounts" not in tables  # the parent was read for the fan-out, not loaded


@pytest.mark.parametrize(
    ("resource", "secret_field"),
    [("api_keys", "key"), ("webhooks", "headers"), ("dfy_email_account_order_accounts", "password")],
)
def test_fields_holding_credentials_are_never_stored(warehouse, world, simulator, resource, secret_field):
    # as an API would answer that sends every secret field, asked for or not (`with_passwords`)
    served = world.page(resource, {"limit": 100, "with_passwords": True})
    path = ENDPOINTS_BY_NAME[resource].path
    simulator.faults.add(Fault(path=path, kind="rewrite", body=lambda body: orjson.dumps(served)))
    warehouse.sync(resources=[resource])
    assert warehouse.keys(resource) == sorted(world.ids(resource))
    columns = {
        row[0]
        for row in warehouse.query(
            "select column_name from information_schema.columns "
            f"where table_schema = '{warehouse.target.dataset}' and table_name like '{resource}%'"
        )
    }
    assert not any(column == secret_field or column.startswith(f"{secret_field}__") for column in columns)
    secrets = [str(item[secret_field]) for item in served["items"] if item.get(secret_field)]
    assert secrets
    dumped = str(warehouse.query(f"select * from {{ds}}.{resource}"))
    assert not any(secret in dumped for secret in secrets)


def test_workspace_is_one_row(warehouse, world):
    warehouse.sync(resources=["workspace"])
    assert warehouse.keys("workspace") == [world.workspace()["id"]]


def test_enum_labels_name_every_code_of_campaign_status(duckdb_warehouse):
    duckdb_warehouse.sync(resources=["enum_labels"])
    rows = duckdb_warehouse.query(
        "select value, label from {ds}.enum_labels where resource = 'campaigns' and column_name = 'status'"
    )
    labels = dict(rows)
    assert labels["1"] == "Active" and labels["2"] == "Paused" and labels["-99"] == "Account Suspended"


def test_campaign_totals_cover_the_whole_range_not_the_default_30_days(duckdb_warehouse, world, simulator):
    duckdb_warehouse.sync(resources=["campaign_analytics"])
    (request,) = simulator.requests_to(ENDPOINTS_BY_NAME["campaign_analytics"].path)
    assert request.query["start_date"] == "2015-01-01"
    expected = world.campaign_totals(start="2015-01-01", end=_today().isoformat())
    loaded = dict(
        duckdb_warehouse.query("select campaign_id, emails_sent_count from {ds}.campaign_analytics")
    )
    assert loaded == {row["campaign_id"]: row["emails_sent_count"] for row in expected}


def test_campaign_daily_backfills_each_campaign_from_its_creation(warehouse, world):
    warehouse.sync(resources=["campaign_analytics_daily"])
    for campaign in world.items("campaigns"):
        created = campaign["timestamp_created"][:10]
        expected = _by_date(world.campaign_daily(campaign["id"], created, _today().isoformat()))
        assert _loaded_daily(warehouse, campaign["id"]) == expected


def test_trailing_window_refetch_updates_changed_days_without_duplicates(duckdb_warehouse, world, simulator):
    duckdb_warehouse.sync(resources=["campaign_analytics_daily"])
    before = duckdb_warehouse.count("campaign_analytics_daily")
    world.touch_analytics(days=3)
    simulator.reset_requests()
    duckdb_warehouse.sync(resources=["campaign_analytics_daily"])
    requests = simulator.requests_to(CAMPAIGN_DAILY)
    assert len(requests) == len(world.ids("campaigns"))
    assert {r.query["start_date"] for r in requests} <= {
        max((_today() - timedelta(days=7)).isoformat(), c["timestamp_created"][:10])
        for c in world.items("campaigns")
    }
    assert duckdb_warehouse.count("campaign_analytics_daily") == before
    campaign = world.items("campaigns")[0]
    expected = _by_date(world.campaign_daily(campaign["id"], campaign["timestamp_created"][:10], _today()))
    assert _loaded_daily(duckdb_warehouse, campaign["id"]) == expected


def test_account_daily_requests_span_at_most_31_days_and_200_accounts(tmp_path):
    world = World(seed=4, sizes={"accounts": 450, "campaigns": 2})
    start = (_today() - timedelta(days=99)).isoformat()
    with Simulator(world) as simulator:
        warehouse = duckdb_warehouse_for(tmp_path, simulator)
        warehouse.sync(resources=["account_analytics_daily"], start_date=start)
        requests = simulator.requests_to(ACCOUNT_DAILY)
    for request in requests:
        emails = request.query["emails"]
        emails = emails if isinstance(emails, list) else emails.split(",")
        assert len(emails) <= 200
        days = date.fromisoformat(request.query["end_date"]) - date.fromisoformat(request.query["start_date"])
        assert days.days + 1 <= 31
    expected = world.account_daily(world.ids("accounts"), start, _today().isoformat())
    assert warehouse.count("account_analytics_daily") == len(expected)
    assert warehouse.count("account_analytics_daily") == len(
        warehouse.query("select distinct email_account, date from {ds}.account_analytics_daily")
    )


def test_campaign_overview_keeps_one_row_per_run(duckdb_warehouse):
    duckdb_warehouse.sync(resources=["campaign_analytics_overview"])
    duckdb_warehouse.sync(resources=["campaign_analytics_overview"])
    assert duckdb_warehouse.count("campaign_analytics_overview") == 2


def test_steps_and_subsequence_analytics_carry_their_campaign(duckdb_warehouse, world):
    duckdb_warehouse.sync(resources=["campaign_analytics_steps", "subsequence_analytics"])
    campaign_id = world.ids("campaigns")[0]
    steps = world.campaign_steps(campaign_id, "2015-01-01", _today().isoformat())
    loaded = duckdb_warehouse.query(
        f"select count(*) from {{ds}}.campaign_analytics_steps where campaign_id = '{campaign_id}'"
    )
    assert loaded == [(len(steps),)]
    expected = {
        (c, row["subsequence_id"]) for c in world.ids("campaigns") for row in world.subsequence_totals(c)
    }
    assert (
        set(duckdb_warehouse.query("select campaign_id, subsequence_id from {ds}.subsequence_analytics"))
        == expected
    )


@pytest.mark.parametrize("resource", ["webhook_events"])
def test_append_only_events_load_only_new_ones_on_the_next_run(duckdb_warehouse, world, resource):
    duckdb_warehouse.sync(resources=[resource])
    world.add(resource, 4)
    second = duckdb_warehouse.sync(resources=[resource])
    assert second.rows_loaded[resource] == 4
    assert duckdb_warehouse.keys(resource) == sorted(world.ids(resource))


def test_a_key_lacking_some_scopes_loads_the_rest_and_reports_a_partial_sync(tmp_path, world, simulator):
    simulator.add_key("narrow-key", world, scopes=("campaigns:read", "leads:read"))
    warehouse = duckdb_warehouse_for(tmp_path, simulator)
    warehouse.source_args["api_key"] = "narrow-key"
    result = warehouse.sync(resources=["campaigns", "leads", "accounts", "webhook_events"])
    assert set(result.progress.skipped()) == {"accounts", "webhook_events"}
    assert "accounts:read" in result.progress.skipped()["accounts"]
    assert warehouse.keys("campaigns") == sorted(world.ids("campaigns"))
    assert warehouse.keys("leads") == sorted(world.ids("leads"))
