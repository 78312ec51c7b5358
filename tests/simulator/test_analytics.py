"""Analytics: one unpaginated answer, figures that add up, creation-bound, recent days that change."""

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from sources.simulator import Simulator, World
from sources.simulator.analytics import DAILY_TO_TOTALS, STEPS_TO_TOTALS

from .conftest import HEADERS

TOTALS = "/api/v2/campaigns/analytics"
DAILY = "/api/v2/campaigns/analytics/daily"
STEPS = "/api/v2/campaigns/analytics/steps"
OVERVIEW = "/api/v2/campaigns/analytics/overview"
ACCOUNTS = "/api/v2/accounts/analytics/daily"
SUBSEQUENCES = "/api/v2/subsequences/analytics"
EVER = "2015-01-01"


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=31, sizes={"campaigns": 4, "accounts": 6, "leads": 60, "subsequences": 6})


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[httpx.Client]:
    with Simulator(world) as sim, httpx.Client(base_url=sim.base_url, headers=HEADERS, timeout=10) as api:
        api.sim = sim  # type: ignore[attr-defined]
        yield api


def today(world: World) -> date:
    return world.now().date()


def get(client: httpx.Client, path: str, **params) -> object:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def summed(rows: list[dict], mapping: dict[str, str]) -> dict[str, int]:
    total: Counter = Counter()
    for row in rows:
        total.update({mapping[name]: row[name] for name in mapping if name in row})
    return {name: total[name] for name in mapping.values()}


def test_served_answers_are_the_world_helpers(client, world):
    campaign = world.ids("campaigns")[1]
    start, end = str(today(world) - timedelta(days=30)), str(today(world))
    assert get(client, TOTALS, start_date=start, end_date=end) == world.campaign_totals(start=start, end=end)
    assert get(client, DAILY, campaign_id=campaign, start_date=start) == world.campaign_daily(campaign, start)
    assert get(client, STEPS, campaign_id=campaign, start_date=start) == world.campaign_steps(campaign, start)
    assert get(client, OVERVIEW, start_date=start) == world.campaign_overview(start=start)
    emails = world.ids("accounts")[:3]
    served = get(client, ACCOUNTS, emails=",".join(emails), start_date=start, end_date=end)
    assert served == world.account_daily(emails, start, end)
    assert get(client, SUBSEQUENCES, campaign_id=campaign) == world.subsequence_totals(campaign)


def test_each_campaigns_daily_rows_and_step_rows_sum_to_its_totals(world):
    start = str(today(world) - timedelta(days=60))
    for totals in world.campaign_totals(start=start):
        campaign = totals["campaign_id"]
        daily, steps = world.campaign_daily(campaign, start), world.campaign_steps(campaign, start)
        assert daily and steps
        expected = {name: totals[name] for name in DAILY_TO_TOTALS.values()}
        assert summed(daily, DAILY_TO_TOTALS) == expected
        with_opportunities = world.campaign_steps(campaign, start, include_opportunities_count=True)
        expected = {name: totals[name] for name in STEPS_TO_TOTALS.values()}
        assert summed(with_opportunities, STEPS_TO_TOTALS) == expected
        assert all("opportunities" not in row for row in steps)


def test_overview_and_all_campaign_daily_are_sums_over_campaigns(world):
    start = EVER
    rows = world.campaign_totals(start=start)
    overview = world.campaign_overview(start=start)
    for name in DAILY_TO_TOTALS.values():
        assert overview[name] == sum(row[name] for row in rows)
    everything: Counter = Counter()
    for campaign in world.ids("campaigns"):
        for row in world.campaign_daily(campaign, start):
            everything.update({(row["date"], name): value for name, value in row.items() if name != "date"})
    combined = {
        (row["date"], name): value
        for row in world.campaign_daily(None, start)
        for name, value in row.items()
        if name != "date"
    }
    assert combined == {key: value for key, value in everything.items()}
    expanded = world.campaign_overview(start=start, expand_crm_events=True)
    assert expanded["total_interested"] >= overview["total_interested"]


def test_steps_rows_carry_no_campaign_id_and_unattributed_events_have_null_step(world):
    rows = world.campaign_steps(None, EVER)
    assert all(set(row) >= {"step", "variant", "sent"} and "campaign_id" not in row for row in rows)
    assert all(isinstance(row["step"], str) for row in rows if row["step"] is not None)
    assert any(row["step"] is None and row["variant"] is None for row in rows)
    assert "campaign_id" not in world.campaign_daily(None, EVER)[0]


def test_daily_rows_run_from_the_creation_day_to_today(world):
    for campaign in world.items("campaigns"):
        rows = world.campaign_daily(campaign["id"], EVER, str(today(world) + timedelta(days=5)))
        dates = [row["date"] for row in rows]
        assert dates == sorted(dates)
        assert dates[0] >= campaign["timestamp_created"][:10] and dates[-1] <= str(today(world))
        assert len(rows) > 0.5 * (today(world) - date.fromisoformat(campaign["timestamp_created"][:10])).days
    email = world.ids("accounts")[0]
    created = world.get("accounts", email)["timestamp_created"][:10]
    rows = world.account_daily([email], EVER, str(today(world)))
    assert rows and min(row["date"] for row in rows) >= created


def test_without_start_date_the_range_is_the_last_30_days(client, world):
    campaign = world.ids("campaigns")[0]
    rows = get(client, DAILY, campaign_id=campaign)
    first = str(today(world) - timedelta(days=29))
    assert rows == world.campaign_daily(campaign, first, str(today(world)))
    assert get(client, TOTALS) == world.campaign_totals(start=first)


def test_figures_are_deterministic_per_seed():
    sizes = {"campaigns": 2, "accounts": 2, "leads": 10}
    one, two = World(seed=5, sizes=sizes), World(seed=5, sizes=sizes)
    assert one.campaign_totals(start=EVER) == two.campaign_totals(start=EVER)
    assert one.account_daily(one.ids("accounts"), EVER) == two.account_daily(two.ids("accounts"), EVER)
    assert World(seed=6, sizes=sizes).campaign_overview(start=EVER) != one.campaign_overview(start=EVER)


def test_touch_analytics_changes_only_the_recent_days():
    world = World(seed=8, sizes={"campaigns": 3, "accounts": 3, "leads": 10})
    recent = str(today(world) - timedelta(days=2))
    before_daily = {c: world.campaign_daily(c, EVER) for c in world.ids("campaigns")}
    before_accounts = world.account_daily(world.ids("accounts"), EVER)
    before_overview = world.campaign_overview(start=EVER)
    version = world.version
    world.touch_analytics(days=3)
    assert world.version > version
    for campaign, rows in before_daily.items():
        after = {row["date"]: row for row in world.campaign_daily(campaign, EVER)}
        for row in rows:
            if row["date"] < recent:
                assert after[row["date"]] == row
            elif row["sent"]:
                assert after[row["date"]]["opened"] > row["opened"]
    after_accounts = {
        (r["date"], r["email_account"]): r for r in world.account_daily(world.ids("accounts"), EVER)
    }
    for row in before_accounts:
        changed = after_accounts[(row["date"], row["email_account"])] != row
        assert changed == (row["date"] >= recent)
    assert world.campaign_overview(start=EVER)["open_count"] > before_overview["open_count"]
    start = str(today(world) - timedelta(days=10))
    for totals in world.campaign_totals(start=start):
        daily = world.campaign_daily(totals["campaign_id"], start)
        assert summed(daily, DAILY_TO_TOTALS) == {name: totals[name] for name in DAILY_TO_TOTALS.values()}


def test_account_daily_limits(client, world):
    emails = world.ids("accounts")
    start = today(world) - timedelta(days=31)
    assert get(client, ACCOUNTS, emails=emails[0], start_date=str(start), end_date=str(today(world)))
    response = client.get(
        ACCOUNTS,
        params={
            "emails": emails[0],
            "start_date": str(start - timedelta(days=1)),
            "end_date": str(today(world)),
        },
    )
    assert response.status_code == 413
    assert response.json()["error"] == "Payload Too Large"
    assert client.get(ACCOUNTS).status_code == 413  # no emails filter
    many = [f"a{k}@example.com" for k in range(201)]
    response = client.get(ACCOUNTS, params={"emails": ",".join(many)})
    assert response.status_code == 400
    assert response.json()["message"] == "querystring/emails must NOT have more than 200 items"
    assert client.get(ACCOUNTS, params={"emails": ",".join(many[:200])}).status_code == 200


def test_account_daily_takes_repeated_or_comma_separated_emails(client, world):
    emails = world.ids("accounts")[:3]
    repeated = client.get(ACCOUNTS, params=[("emails", email) for email in emails]).json()
    assert repeated == get(client, ACCOUNTS, emails=",".join(emails))
    assert {row["email_account"] for row in repeated} == set(emails)
    keys = [(row["date"], row["email_account"]) for row in repeated]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_bad_ranges_and_missing_campaign_id_are_400(client, world):
    response = client.get(DAILY, params={"start_date": "2026-02-02", "end_date": "2026-02-01"})
    assert response.status_code == 400
    assert response.json()["message"] == "Start Date must be earlier than End Date"
    assert client.get(TOTALS, params={"start_date": "yesterday"}).status_code == 400
    response = client.get(SUBSEQUENCES)
    assert response.status_code == 400
    assert response.json()["message"] == "querystring must have required property 'campaign_id'"


def test_subsequence_totals_are_per_subsequence_of_the_campaign(world):
    rows = [(c, row) for c in world.ids("campaigns") for row in world.subsequence_totals(c)]
    by_campaign = {s["id"]: s["parent_campaign"] for s in world.items("subsequences")}
    assert {row["subsequence_id"]: c for c, row in rows} == by_campaign
    assert all(row["emails_sent"] >= row["unique_opens"] >= row["unique_replies"] >= 0 for _, row in rows)


def test_scopes_follow_the_spec(client, world):
    client.sim.add_key("leads-only", world, scopes=("campaigns:read", "leads:read"))
    headers = {**HEADERS, "Authorization": "Bearer leads-only"}
    campaign = world.ids("campaigns")[0]
    # the campaign and account analytics operations name no scope in the spec; subsequence analytics do
    for path in (TOTALS, DAILY, STEPS, OVERVIEW):
        assert client.get(path, headers=headers).status_code == 200
    response = client.get(SUBSEQUENCES, params={"campaign_id": campaign}, headers=headers)
    assert response.status_code == 403
    response = client.get(f"/api/v2/account-campaign-mappings/{world.ids('accounts')[0]}", headers=headers)
    assert response.status_code == 403
