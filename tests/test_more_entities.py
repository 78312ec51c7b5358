"""The rest of the readable entities: AI agents, DFY orders, billing, phone numbers, tracking domains, sending
status, verification stats, subsequence steps, webhook events per day, the unread count. Each table holds
exactly what the simulator serves; per-parent ones skip a parent deleted mid-sync and follow their parent."""

from datetime import UTC, datetime

import pytest

from sources.instantly.endpoints import ENDPOINTS_BY_NAME
from sources.simulator import Fault, objects

TODAY = datetime.now(UTC).date().isoformat()
EVERY_DAY = {"start_date": "2015-01-01", "end_date": TODAY}


def _steps(world):
    return {
        (subsequence, row["step"] or "unknown", row["variant"] or "unknown"): row["sent"]
        for subsequence in world.ids("subsequences")
        for row in objects.subsequence_steps(world, EVERY_DAY, {"id": subsequence})
    }


def _summary(world):
    summary = objects.webhook_summary(world, {"from": "2015-01-01", "to": TODAY}, {})
    return {row["date"]: row["total_events"] for row in summary["items"]}


# table: (SQL of its key, SQL of one value, what the simulator holds as {key: value})
EXPECTED = {
    "ai_agents": ("id", "name", lambda w: {a["id"]: a["name"] for a in w.items("ai_agents")}),
    "ai_agent_activities": (
        "id",
        "ai_sdr_id",
        lambda w: {a["id"]: a["ai_sdr_id"] for a in w.items("ai_agent_activities")},
    ),
    "campaign_sending_status": ("campaign_id", "campaign_id", lambda w: {c: c for c in w.ids("campaigns")}),
    "subsequence_analytics_steps": ("subsequence_id || '/' || step || '/' || variant", "sent", _steps),
    "webhook_event_summary_daily": ("cast(date as varchar)", "total_events", _summary),
    "lead_list_verification_stats": (
        "lead_list_id",
        "total_leads",
        lambda w: {
            i: objects.verification_stats(w, {}, {"id": i}).get("total_leads") for i in w.ids("lead_lists")
        },
    ),
    "dfy_email_account_orders": (
        "domain",
        "forwarding_domain",
        lambda w: {o["domain"]: o.get("forwarding_domain") for o in w.items("dfy_email_account_orders")},
    ),
    "dfy_email_account_order_accounts": (
        "id",
        "email",
        lambda w: {a["id"]: a["email"] for a in w.items("dfy_email_account_order_accounts")},
    ),
    "workspace_plan": ("organization_id", "organization_name", lambda w: {w.org_id: w.name}),
    "crm_phone_numbers": (
        "id",
        "phone_number",
        lambda w: {p["id"]: p.get("phone_number") for p in w.items("crm_phone_numbers")},
    ),
    "custom_tracking_domain_status": (
        "host",
        "host",
        lambda w: {h: h for h in w.tracking_domains()},
    ),
}


def _key(value):
    """A composite key as the SQL joins it (`a/b/c`); one value as it is."""
    return "/".join(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("table", EXPECTED)
def test_each_table_holds_exactly_the_simulators_items_and_a_rerun_adds_no_row(warehouse, world, table):
    key, value, expected = EXPECTED[table]
    warehouse.sync(resources=[table])
    warehouse.sync(resources=[table])
    loaded = warehouse.query(f"select {key}, {value} from {{ds}}.{table}")
    want = {_key(k): v for k, v in expected(world).items()}
    assert want, "the simulator serves items"
    assert len(loaded) == len(want)
    assert {str(k): v for k, v in loaded} == want


def test_the_unread_count_is_one_row_per_run(warehouse, world):
    warehouse.sync(resources=["unread_email_count"])
    warehouse.sync(resources=["unread_email_count"])
    counts = warehouse.query("select count from {ds}.unread_email_count order by synced_at")
    assert counts == [(world.unread_emails(),)] * 2


def test_subscriptions_are_a_snapshot_per_run_of_every_product_paid_for(warehouse, world):
    warehouse.sync(resources=["workspace_subscription"])
    warehouse.sync(resources=["workspace_subscription"])
    rows = warehouse.query("select synced_at, product_id, price_in_dollars from {ds}.workspace_subscription")
    served = objects.subscription_details(world, {}, {})["subscriptions"]
    expected = sorted((s["product_id"], s["price_in_dollars"]) for s in served)
    runs = sorted({synced_at for synced_at, _, _ in rows})
    assert len(runs) == 2
    for run in runs:
        assert sorted((p, v) for synced_at, p, v in rows if synced_at == run) == expected


def test_analytics_and_summaries_are_asked_for_the_whole_range(duckdb_warehouse, simulator):
    duckdb_warehouse.sync(resources=["subsequence_analytics_steps", "webhook_event_summary_daily"])
    summary = simulator.requests_to(ENDPOINTS_BY_NAME["webhook_event_summary_daily"].path)
    assert [(r.query["from"], r.query["to"]) for r in summary] == [("2015-01-01", TODAY)]
    steps = [r for r in simulator.requests if r.path.endswith("/analytics/steps")]
    assert steps and {(r.query["start_date"], r.query["end_date"]) for r in steps} == {("2015-01-01", TODAY)}


def test_tracking_domain_status_is_asked_once_per_distinct_domain_of_the_accounts(
    duckdb_warehouse, simulator, world
):
    shared = world.ids("accounts")[:3]
    world.update("accounts", ids=shared, changes={"tracking_domain_name": "track.example.org"})
    duckdb_warehouse.sync(resources=["custom_tracking_domain_status"])
    hosts = [r.query["host"] for r in simulator.requests_to("/api/v2/accounts/ctd/status")]
    assert sorted(hosts) == sorted(world.tracking_domains()) and "track.example.org" in hosts
    assert duckdb_warehouse.keys("custom_tracking_domain_status", "host") == sorted(world.tracking_domains())


@pytest.mark.parametrize(
    ("resource", "parent", "path"),
    [
        ("ai_agent_activities", "ai_agents", "/api/v2/ai-agents/{}/activities"),
        ("campaign_sending_status", "campaigns", "/api/v2/campaigns/{}/sending-status"),
        ("subsequence_analytics_steps", "subsequences", "/api/v2/subsequences/{}/analytics/steps"),
        ("lead_list_verification_stats", "lead_lists", "/api/v2/lead-lists/{}/verification-stats"),
    ],
)
def test_a_parent_deleted_mid_sync_is_skipped_and_counted(
    duckdb_warehouse, simulator, world, resource, parent, path
):
    gone, *kept = world.ids(parent)
    simulator.faults.add(Fault(path=path.format(gone), kind="status", status=404))
    result = duckdb_warehouse.sync(resources=[resource])
    stats = result.progress.of(resource)
    assert (stats.failed, stats.parents_skipped) == (None, 1)
    asked = {r.path for r in simulator.requests if r.status == 200 and r.path.startswith(path.split("{")[0])}
    assert asked == {path.format(k) for k in kept}


def test_rows_about_a_deleted_campaign_or_agent_are_marked_deleted(duckdb_warehouse, world):
    resources = ["campaigns", "campaign_sending_status", "ai_agents", "ai_agent_activities"]
    duckdb_warehouse.sync(resources=resources)
    campaign, agent = world.ids("campaigns")[0], world.ids("ai_agents")[0]
    world.remove("campaigns", [campaign])
    world.remove("ai_agents", [agent])
    duckdb_warehouse.sync(resources=resources)
    marked = duckdb_warehouse.query(
        "select campaign_id from {ds}.campaign_sending_status where _deleted_at is not null"
    )
    assert marked == [(campaign,)]
    activities = duckdb_warehouse.query(
        "select ai_sdr_id, _deleted_at is not null from {ds}.ai_agent_activities"
    )
    assert {a for a, deleted in activities if deleted} == {agent}
    assert all(deleted == (a == agent) for a, deleted in activities)


def test_dfy_mailbox_passwords_are_never_asked_for(duckdb_warehouse, simulator):
    duckdb_warehouse.sync(resources=["dfy_email_account_order_accounts"])
    (request,) = simulator.requests_to(ENDPOINTS_BY_NAME["dfy_email_account_order_accounts"].path)
    assert request.query["with_passwords"] == "false"
