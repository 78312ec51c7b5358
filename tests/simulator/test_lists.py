"""The workspace's other lists: spec limits, cursor kinds, scopes, parent-scoped lists, references."""

import re
from collections.abc import Iterator

import httpx
import pytest

from sources.instantly import spec
from sources.simulator import ENTITIES, Simulator, World

from .conftest import HEADERS, get_page, items_of, walk

PLAIN = {
    name: entity.path
    for name, entity in ENTITIES.items()
    if name not in ("campaigns", "accounts", "leads", "emails", "audit_logs")
    and not spec.query_parameter(entity.path, "GET", "test_id")
    and "{" not in entity.path  # served per parent: ai_agent_activities
    and entity.paginated
}
PER_TEST = {
    "inbox_placement_analytics": "/api/v2/inbox-placement-analytics",
    "inbox_placement_reports": "/api/v2/inbox-placement-reports",
}
MAPPINGS = "/api/v2/account-campaign-mappings/{email}"
SIZES = {**dict.fromkeys(PLAIN, 7), "campaigns": 6, "accounts": 9, "leads": 40, "emails": 10}


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=21, sizes=SIZES)


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[httpx.Client]:
    with Simulator(world) as sim, httpx.Client(base_url=sim.base_url, headers=HEADERS, timeout=10) as api:
        api.sim = sim  # type: ignore[attr-defined]
        yield api


def test_the_plain_lists_are_the_warehouse_tables():
    assert set(PLAIN) == {
        "lead_lists",
        "lead_labels",
        "custom_tags",
        "custom_tag_mappings",
        "block_list_entries",
        "subsequences",
        "webhooks",
        "webhook_events",
        "workspace_members",
        "workspace_group_members",
        "api_keys",
        "background_jobs",
        "inbox_placement_tests",
        "ai_agents",
        "dfy_email_account_orders",
        "dfy_email_account_order_accounts",
    }


@pytest.mark.parametrize("entity", PLAIN)
def test_cursor_walk_pages_like_the_api_and_returns_every_item(client, world, entity):
    pages = walk(client, PLAIN[entity], limit=3)
    assert [len(page["items"]) for page in pages] == [3, 3, 1]
    assert ["next_starting_after" in page for page in pages] == [True, True, False]
    assert items_of(pages) == world.items(entity)


@pytest.mark.parametrize("entity", PLAIN)
def test_limit_bounds_come_from_the_spec(client, entity):
    low, high = spec.limit_bounds(PLAIN[entity], "GET")
    assert (low, high) == (1, 100)
    for limit, message in ((high + 1, f"must be <= {high}"), (low - 1, f"must be >= {low}")):
        response = client.get(PLAIN[entity], params={"limit": limit})
        assert response.status_code == 400
        assert response.json()["message"] == f"querystring/limit {message}"


@pytest.mark.parametrize(
    ("entity", "cursor"),
    [
        ("lead_lists", "timestamp_created"),
        ("lead_labels", "timestamp_created"),
        ("custom_tags", "id"),
        ("webhook_events", "id"),
        ("background_jobs", "id"),
    ],
)
def test_cursor_kind_follows_the_spec(client, entity, cursor):
    page = get_page(client, PLAIN[entity], limit=2)
    assert page["next_starting_after"] == page["items"][-1][cursor]


def test_lead_lists_and_labels_take_a_timestamp_cursor(client, world):
    lists = world.items("lead_lists")
    page = get_page(client, "/api/v2/lead-lists", starting_after=lists[2]["timestamp_created"])
    assert page["items"] == lists[3:]
    assert client.get("/api/v2/lead-labels", params={"starting_after": "not-a-time"}).status_code == 400


def test_background_jobs_have_24_hex_ids_and_created_at_instead_of_timestamp_created(client, world):
    jobs = world.items("background_jobs")
    assert all(re.fullmatch(r"[0-9a-f]{24}", job["id"]) for job in jobs)
    assert all("timestamp_created" not in job and job["created_at"] <= job["updated_at"] for job in jobs)
    newest_first = items_of(walk(client, "/api/v2/background-jobs", limit=3, sort_order="desc"))
    assert newest_first == jobs[::-1]
    rest = get_page(client, "/api/v2/background-jobs", excluded_ids=f"{jobs[0]['id']},{jobs[1]['id']}")
    assert rest["items"] == jobs[2:]


def test_lists_enforce_the_scopes_their_spec_names(client, world):
    client.sim.add_key("narrow", world, scopes=("campaigns:read", "leads:read"))
    headers = {**HEADERS, "Authorization": "Bearer narrow"}
    for entity, path in PLAIN.items():
        response = client.get(path, headers=headers)
        if entity == "webhooks":  # the spec names no scope for GET /webhooks: any key may list them
            assert response.status_code == 200
        else:
            assert response.status_code == 403, entity
            assert "all:read" in response.json()["message"]
    client.sim.add_key("tags-only", world, scopes=("custom_tags:read",))
    tags_only = {**HEADERS, "Authorization": "Bearer tags-only"}
    assert client.get("/api/v2/custom-tags", headers=tags_only).status_code == 200


@pytest.mark.parametrize("entity", PER_TEST)
def test_per_test_lists_require_test_id_and_hold_only_that_tests_items(client, world, entity):
    path = PER_TEST[entity]
    response = client.get(path)
    assert response.status_code == 400
    assert response.json()["message"] == "querystring must have required property 'test_id'"
    tests = set(world.ids("inbox_placement_tests"))
    everything = world.items(entity)
    assert everything and {item["test_id"] for item in everything} <= tests
    served = []
    for test_id in world.ids("inbox_placement_tests"):
        items = items_of(walk(client, path, limit=4, test_id=test_id))
        assert all(item["test_id"] == test_id for item in items)
        served += items
    assert sorted(served, key=lambda item: item["id"]) == sorted(everything, key=lambda item: item["id"])


def test_reports_can_leave_out_their_big_reports(client, world):
    test_id = world.items("inbox_placement_reports")[0]["test_id"]
    page = get_page(
        client, PER_TEST["inbox_placement_reports"], test_id=test_id, skip_spam_assassin_report="true"
    )
    assert page["items"] and all("spam_assassin_report" not in item for item in page["items"])


def test_account_campaign_mappings_are_the_campaigns_using_the_account(client, world):
    campaigns = world.items("campaigns")
    checked = 0
    for email in world.ids("accounts"):
        expected = [c for c in campaigns if email in c.get("email_list", [])]
        pages = walk(client, MAPPINGS.format(email=email), limit=1)
        served = items_of(pages)
        assert [m["campaign_id"] for m in served] == [c["id"] for c in expected]
        assert all(m["campaign_name"] == c["name"] for m, c in zip(served, expected, strict=True))
        for page in pages[:-1]:  # a timestamp cursor: the last campaign's creation time
            assert page["next_starting_after"] == page["items"][-1]["timestamp_created"]
        assert served == world.account_campaigns(email)
        checked += len(served)
    assert checked == len(world.ids("account_campaign_mappings")) > 0
    assert set(world.ids("account_campaign_mappings")) == {
        f"{m['account_email']}&{m['campaign_id']}" for m in world.items("account_campaign_mappings")
    }


def test_account_campaign_mappings_of_an_unknown_account_is_404(client):
    response = client.get(MAPPINGS.format(email="nobody@nowhere.example"))
    assert response.status_code == 404
    assert response.json()["error"] == "Not Found"


def test_references_point_at_real_items(world):
    tags = {tag["id"]: tag for tag in world.items("custom_tags")}
    accounts, campaigns = set(world.ids("accounts")), set(world.ids("campaigns"))
    for mapping in world.items("custom_tag_mappings"):
        assert mapping["tag_id"] in tags
        assert mapping["resource_id"] in (accounts if mapping["resource_type"] == 1 else campaigns)
    pairs = [(m["tag_id"], m["resource_id"]) for m in world.items("custom_tag_mappings")]
    assert len(set(pairs)) == len(pairs)
    assert {s["parent_campaign"] for s in world.items("subsequences")} <= campaigns
    urls = {hook["target_hook_url"] for hook in world.items("webhooks")}
    assert {event["webhook_url"] for event in world.items("webhook_events")} <= urls
    assert {
        job["entity_id"] for job in world.items("background_jobs") if job["entity_type"] == "campaign"
    } <= campaigns
    assert {lead["list_id"] for lead in world.items("leads") if "list_id" in lead} <= set(
        world.ids("lead_lists")
    )
    owner = world.items("workspace_members")[0]
    assert owner["role"] == "owner" and owner["user_id"] == world.users[0][0]


def test_account_tags_are_the_custom_tags_mapped_to_the_account(client, world):
    accounts = items_of(walk(client, "/api/v2/accounts", include_tags="true"))
    tagged = 0
    for account in accounts:
        expected = world.tags_of(account["email"])
        assert account["tags"] == expected
        tagged += bool(expected)
    assert tagged
    email = next(a["email"] for a in accounts if a["tags"])
    served = get_page(client, "/api/v2/custom-tags", resource_ids=email)["items"]
    assert {tag["id"] for tag in served} == {tag["id"] for tag in world.tags_of(email)}


def test_api_keys_carry_secret_looking_keys(world):
    keys = [item["key"] for item in world.items("api_keys")]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[A-Za-z0-9+/]{40,}={0,2}", key) for key in keys)


def test_webhook_events_filter_by_day_and_are_append_only(client, world):
    events = world.items("webhook_events")
    day = events[3]["timestamp_created"][:10]
    served = items_of(walk(client, "/api/v2/webhook-events", **{"from": day, "to": day}))
    assert served == [event for event in events if event["timestamp_created"][:10] == day]
    assert all(event["timestamp_created_date"] == event["timestamp_created"][:10] for event in events)
    with pytest.raises(ValueError, match="append-only"):
        world.update("webhook_events", 1)


def test_new_items_of_the_new_lists_come_after_the_old_ones():
    world = World(seed=2, sizes={"background_jobs": 2, "lead_labels": 2})
    (job,) = world.add("background_jobs")
    assert world.ids("background_jobs")[-1] == job["id"] and job["updated_at"] == job["created_at"]
    (label,) = world.add("lead_labels")
    assert world.ids("lead_labels")[-1] == label["id"]
    (changed,) = world.update("background_jobs", ids=[job["id"]], changes={"status": "success"})
    assert changed["updated_at"] >= job["updated_at"] and changed["status"] == "success"


def test_repeated_query_parameters_reach_array_parameters_only(client, world):
    ids = world.ids("campaigns")[:2]
    response = client.get("/api/v2/campaigns/analytics", params=[("ids", ids[0]), ("ids", ids[1])])
    assert [row["campaign_id"] for row in response.json()] == ids
    response = client.get("/api/v2/campaigns", params=[("limit", 2), ("limit", 3)])
    assert response.status_code == 400
    assert response.json()["message"] == "querystring/limit must be integer"
    record = client.sim.requests_to("/api/v2/campaigns/analytics")[-1]
    assert record.query["ids"] == ids


ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.mark.parametrize("entity", [*PLAIN, *PER_TEST])
def test_items_follow_the_spec_schema(world, entity):
    schema = ENTITIES[entity].item_schema
    properties = schema["properties"]
    seen: set[str] = set()
    for item in world.items(entity):
        assert set(item) <= set(properties), set(item) - set(properties)
        assert set(schema.get("required", [])) <= set(item)
        seen |= set(item)
        for name, value in item.items():
            if "enum" in properties[name] and value is not None:
                assert value in properties[name]["enum"], (name, value)
            if properties[name].get("format") == "date-time" and value:
                assert ISO_MS.match(value), (name, value)
    assert len(seen) >= 0.9 * len(properties)


def test_sizes_name_every_table_and_small_defaults_fill_the_rest():
    world = World(seed=3, sizes={"api_keys": 2, "account_campaign_mappings": 5})  # derived: size ignored
    assert len(world.ids("api_keys")) == 2
    for entity in PLAIN:
        assert 1 <= len(world.ids(entity)) <= 10, entity
    assert all(5 <= len(world.items(entity)) <= 80 for entity in PER_TEST)
    assert World(seed=3, sizes=dict.fromkeys(PLAIN, 0)).items("webhook_events") == []


def test_an_unpaginated_list_is_served_whole_as_one_array(client, world):
    served = client.get("/api/v2/crm-actions/phone-numbers").json()
    assert served == world.items("crm_phone_numbers")
    assert len(served) == ENTITIES["crm_phone_numbers"].default_size


def test_an_ai_agents_activities_are_served_per_agent(client, world):
    agent = world.items("ai_agent_activities")[0]["ai_sdr_id"]
    items = items_of(walk(client, f"/api/v2/ai-agents/{agent}/activities", limit=2))
    assert items == [a for a in world.items("ai_agent_activities") if a["ai_sdr_id"] == agent]
    assert client.get("/api/v2/ai-agents/unknown/activities").status_code == 404
