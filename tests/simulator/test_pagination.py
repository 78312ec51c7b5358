"""Cursor pagination as the API does it (NOTES.md): spec limits, cursors that mean different things."""

import pytest

from sources.instantly import spec
from sources.simulator import Simulator, World

from .conftest import HEADERS, LEADS, get_page, items_of, walk

LISTS = {
    "campaigns": "/api/v2/campaigns",
    "accounts": "/api/v2/accounts",
    "leads": LEADS,
    "emails": "/api/v2/emails",
    "audit_logs": "/api/v2/audit-logs",
}


def test_full_page_carries_cursor_and_short_page_does_not(api):
    pages = walk(api, "/api/v2/audit-logs", limit=40)  # 90 logs: 40 + 40 + 10
    assert [len(page["items"]) for page in pages] == [40, 40, 10]
    assert ["next_starting_after" in page for page in pages] == [True, True, False]


def test_size_that_is_a_multiple_of_limit_ends_with_a_full_page_with_cursor_then_an_empty_page(api):
    pages = walk(api, LEADS, limit=50)  # 250 leads
    assert [len(page["items"]) for page in pages] == [50, 50, 50, 50, 50, 0]
    assert "next_starting_after" in pages[-2]
    assert pages[-1] == {"items": []}


@pytest.mark.parametrize("entity", LISTS)
def test_cursor_walk_returns_every_item_once_exactly_as_the_world_holds_it(api, sim_world, entity):
    assert items_of(walk(api, LISTS[entity], limit=7)) == sim_world.items(entity)


def test_limit_defaults_to_ten_when_absent(api):
    assert len(get_page(api, "/api/v2/emails")["items"]) == 10
    assert len(get_page(api, LEADS)["items"]) == 10


@pytest.mark.parametrize("entity", ["campaigns", "accounts", "emails", "audit_logs"])
def test_limit_above_spec_maximum_is_400(api, entity):
    path = LISTS[entity]
    _, maximum = spec.limit_bounds(path, "GET")
    response = api.get(path, params={"limit": maximum + 1})
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": f"querystring/limit must be <= {maximum}",
    }


def test_audit_logs_take_the_spec_maximum_of_1000(api):
    assert spec.limit_bounds("/api/v2/audit-logs", "GET") == (1, 1000)
    assert len(get_page(api, "/api/v2/audit-logs", limit=1000)["items"]) == 90


BAD_LIMITS = [(0, "must be >= 1"), ("ten", "must be integer"), (2.5, "must be integer")]


@pytest.mark.parametrize(("limit", "message"), BAD_LIMITS, ids=["zero", "word", "fraction"])
def test_limit_below_minimum_or_not_an_integer_is_400(api, limit, message):
    response = api.get("/api/v2/campaigns", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()["message"] == f"querystring/limit {message}"


def test_leads_limit_above_maximum_in_the_body_is_400(api):
    response = api.post(LEADS, json={"limit": 101})
    assert response.status_code == 400
    assert response.json()["message"] == "body/limit must be <= 100"


def test_leads_cursor_is_read_from_json_body(api, sim_world):
    first = api.post(LEADS, json={"limit": 5}).json()
    second = api.post(LEADS, json={"limit": 5, "starting_after": first["next_starting_after"]}).json()
    assert [lead["id"] for lead in first["items"] + second["items"]] == sim_world.ids("leads")[:10]


def test_leads_limit_and_cursor_in_the_query_string_are_ignored(api):
    first = api.post(LEADS, json={"limit": 5}).json()
    response = api.post(LEADS, params={"limit": 3, "starting_after": first["next_starting_after"]}, json={})
    assert response.json()["items"][0]["id"] == first["items"][0]["id"]
    assert len(response.json()["items"]) == 10


def test_legacy_leads_are_out_of_id_order_but_cursor_walk_returns_all(api, sim_world):
    pages = walk(api, LEADS, limit=10)
    served = [lead["id"] for lead in items_of(pages)]
    assert served != sorted(served)
    assert sorted(served) == sorted(sim_world.ids("leads"))
    legacy = [lead for lead in sim_world.items("leads") if lead["timestamp_created"] < "2025-10-15"]
    assert len(legacy) == 25  # 10% of 250, the oldest
    assert all(lead["id"][14] == "4" for lead in legacy)  # random v4 ids; newer ones are v7
    # a client that keeps only ids greater than the last cursor loses some of them
    kept, cursor = [], ""
    for page in pages:
        kept += [lead["id"] for lead in page["items"] if lead["id"] > cursor]
        cursor = page.get("next_starting_after", cursor)
    assert len(kept) < len(served)


def test_unknown_or_invalid_starting_after_is_400(api, sim_world):
    other = World(seed=99, sizes={"campaigns": 3})
    for cursor in ["not-a-cursor", other.ids("campaigns")[0]]:
        response = api.get("/api/v2/campaigns", params={"starting_after": cursor})
        assert response.status_code == 400
        assert response.json()["error"] == "Bad Request"


def test_a_removed_items_id_still_works_as_a_cursor(api, sim_world):
    ids = sim_world.ids("campaigns")
    sim_world.remove("campaigns", ids=[ids[1]])
    after = get_page(api, "/api/v2/campaigns", starting_after=ids[1])
    assert [c["id"] for c in after["items"]] == ids[2:]


def test_accounts_cursor_is_timestamp_created_and_email_and_order_follows_it(api, sim_world):
    page = get_page(api, "/api/v2/accounts", limit=5)
    last = page["items"][-1]
    assert page["next_starting_after"] == f"{last['timestamp_created']}&{last['email']}"
    accounts = sim_world.items("accounts")
    assert accounts == sorted(accounts, key=lambda a: (a["timestamp_created"], a["email"]))
    assert "id" not in accounts[0]


def test_accounts_accept_a_legacy_timestamp_cursor(api, sim_world):
    accounts = sim_world.items("accounts")
    page = get_page(api, "/api/v2/accounts", starting_after=accounts[3]["timestamp_created"])
    assert [a["email"] for a in page["items"]] == [a["email"] for a in accounts[4:]]


def test_emails_are_newest_first_by_default(api):
    created = [email["timestamp_created"] for email in items_of(walk(api, "/api/v2/emails"))]
    assert created == sorted(created, reverse=True)


def test_emails_asc_with_min_timestamp_filter(api, sim_world):
    emails = sorted(sim_world.items("emails"), key=lambda e: e["timestamp_created"])
    since = emails[30]["timestamp_created"]
    served = items_of(walk(api, "/api/v2/emails", limit=25, sort_order="asc", min_timestamp_created=since))
    assert [e["id"] for e in served] == [e["id"] for e in emails[30:]]


def test_emails_max_timestamp_filter_excludes_that_instant(api, sim_world):
    emails = sorted(sim_world.items("emails"), key=lambda e: e["timestamp_created"])
    until = emails[20]["timestamp_created"]
    served = items_of(walk(api, "/api/v2/emails", sort_order="asc", max_timestamp_created=until))
    assert [e["id"] for e in served] == [e["id"] for e in emails[:20]]


def test_emails_preview_only_leaves_out_the_body(api):
    full = get_page(api, "/api/v2/emails", limit=5)["items"]
    previews = get_page(api, "/api/v2/emails", limit=5, preview_only="true")["items"]
    assert all("body" in email for email in full)
    assert all("body" not in email and email["content_preview"] for email in previews)
    assert [e["id"] for e in previews] == [e["id"] for e in full]


def test_audit_logs_are_newest_first_and_filter_by_whole_days(api, sim_world):
    logs = sim_world.items("audit_logs")
    assert [log["timestamp"] for log in logs] == sorted((log["timestamp"] for log in logs), reverse=True)
    day = logs[40]["timestamp"][:10]
    served = items_of(walk(api, "/api/v2/audit-logs", start_date=day, end_date=day))
    assert served == [log for log in logs if log["timestamp"][:10] == day]


def test_audit_logs_filter_by_iso_datetimes_inclusive(api, sim_world):
    logs = sim_world.items("audit_logs")
    start, end = logs[50]["timestamp"], logs[10]["timestamp"]
    served = items_of(walk(api, "/api/v2/audit-logs", start_date=start, end_date=end))
    assert served == logs[10:51]


def test_filters_narrow_lists(api, sim_world):
    campaign = sim_world.ids("campaigns")[0]
    leads = items_of(walk(api, LEADS, campaign=campaign))
    assert leads and all(lead["campaign"] == campaign for lead in leads)
    emails = items_of(walk(api, "/api/v2/emails", campaign_id=campaign))
    assert all(email["campaign_id"] == campaign for email in emails)


def test_empty_world_serves_empty_lists():
    empty = World(seed=3, sizes=dict.fromkeys(LISTS, 0))
    with Simulator(empty) as sim:
        import httpx

        with httpx.Client(base_url=sim.base_url, headers=HEADERS) as client:
            for path in LISTS.values():
                assert get_page(client, path, limit=100) == {"items": []}


def test_a_change_between_two_pages_shows_on_the_next_page(api, sim_world):
    first = get_page(api, LEADS, limit=10)  # the next page may already be prepared in the background
    upcoming = sim_world.ids("leads")[10:13]
    sim_world.update("leads", ids=upcoming, changes={"job_title": "Changed between pages"})
    second = get_page(api, LEADS, limit=10, starting_after=first["next_starting_after"])
    assert [lead["job_title"] for lead in second["items"][:3]] == ["Changed between pages"] * 3
    assert second["items"] == sim_world.items("leads")[10:20]
