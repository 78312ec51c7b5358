"""The world: deterministic, spec-shaped, realistic data, and the changes tests make to it."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from sources.instantly import spec
from sources.simulator import ABSENT, World

from .conftest import SIZES

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PATHS = {
    "campaigns": ("/api/v2/campaigns", "GET"),
    "accounts": ("/api/v2/accounts", "GET"),
    "leads": ("/api/v2/leads/list", "POST"),
    "emails": ("/api/v2/emails", "GET"),
    "audit_logs": ("/api/v2/audit-logs", "GET"),
}


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=7, sizes={**SIZES, "leads": 600, "emails": 300})


def test_same_seed_and_sizes_give_the_same_items_and_another_seed_does_not(world):
    again = World(seed=7, sizes={**SIZES, "leads": 600, "emails": 300})
    for entity in PATHS:
        assert again.items(entity) == world.items(entity)
    assert World(seed=8, sizes=SIZES).ids("leads") != world.ids("leads")[:250]


def test_missing_sizes_get_small_defaults_and_zero_means_empty():
    world = World(seed=1, sizes={"leads": 0})
    assert world.items("leads") == []
    assert 0 < len(world.ids("campaigns")) <= 20


def test_unknown_entity_is_refused():
    with pytest.raises(ValueError, match="unknown entities"):
        World(seed=1, sizes={"contacts": 5})


def test_ids_are_uuids_and_accounts_are_keyed_by_email(world):
    for entity in ("campaigns", "leads", "emails", "audit_logs"):
        assert all(UUID.match(key) for key in world.ids(entity)), entity
    emails = world.ids("accounts")
    assert len(set(emails)) == len(emails) == SIZES["accounts"]
    assert all("@" in email for email in emails)


@pytest.mark.parametrize("entity", PATHS)
def test_items_use_only_the_spec_s_property_names_and_enum_values(world, entity):
    schema = spec.list_item_schema(*PATHS[entity])
    properties = schema["properties"]
    seen: set[str] = set()
    for item in world.items(entity):
        assert set(item) <= set(properties), set(item) - set(properties)
        assert set(schema.get("required", [])) <= set(item)
        seen |= set(item)
        for name, value in item.items():
            if "enum" in properties[name] and value is not None:
                assert value in properties[name]["enum"], (name, value)
    assert len(seen) >= 0.9 * len(properties)  # every property of the schema is considered


@pytest.mark.parametrize("entity", PATHS)
def test_timestamps_are_iso_with_milliseconds_and_lie_in_the_past(world, entity):
    limit = (world.now() - timedelta(hours=1)).isoformat()[:19]
    for item in world.items(entity):
        for name, value in item.items():
            if name.startswith("timestamp") and value:
                assert ISO_MS.match(value), (name, value)
                assert value[:19] <= limit, (name, value)


def test_optional_keys_are_often_absent_rather_than_null(world):
    leads = world.items("leads")
    absent = sum("timestamp_last_contact" not in lead for lead in leads)
    empty = sum(lead.get("timestamp_last_contact") == "" for lead in leads)
    assert absent > 100 and empty >= 1
    assert any("campaign" not in lead for lead in leads) and any("campaign" in lead for lead in leads)
    assert any(lead.get("phone", 0) is None for lead in leads)
    assert any("phone" not in lead for lead in leads)


def test_text_carries_accents_cjk_and_emoji(world):
    text = " ".join(lead["first_name"] + lead["company_name"] for lead in world.items("leads"))
    text += " ".join(campaign["name"] for campaign in world.items("campaigns"))
    assert re.search(r"[À-ž]", text)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text)
    assert re.search(r"[\U0001F300-\U0001FAFF]", text + " ".join(e["subject"] for e in world.items("emails")))


def test_lead_payload_holds_custom_variables_and_camelcase_copies(world):
    leads = world.items("leads")
    for lead in leads:
        payload = lead["payload"]
        assert payload["firstName"] == lead["first_name"]
        assert payload["companyName"] == lead["company_name"]
    core = {"firstName", "lastName", "companyName", "jobTitle", "website", "phone", "personalization"}
    custom = {name for lead in leads for name in lead["payload"]} - core
    assert 15 <= len(custom) <= 25
    kinds = {type(value) for lead in leads for name, value in lead["payload"].items() if name in custom}
    assert {str, int, float, bool, type(None), dict} <= kinds


def test_campaigns_carry_sequences_steps_variants_and_schedules(world):
    for campaign in world.items("campaigns"):
        steps = campaign["sequences"][0]["steps"]
        assert steps and all(
            step["variants"] and {"subject", "body"} <= set(step["variants"][0]) for step in steps
        )
        schedule = campaign["campaign_schedule"]
        assert schedule == {} or {"name", "timing", "days", "timezone"} <= set(schedule["schedules"][0])


# spec `number` fields: a top-level one, one of a nested object, one of a list item (a child table), a total
NUMBER_FIELDS = {
    "email_open_count": lambda world: [lead.get("email_open_count") for lead in world.items("leads")],
    "warmup.limit": lambda world: [account["warmup"].get("limit") for account in world.items("accounts")],
    "sequences.steps.pre_delay": lambda world: [
        step.get("pre_delay")
        for campaign in world.items("campaigns")
        for sequence in campaign["sequences"]
        for step in sequence["steps"]
    ],
    "total_opportunity_value": lambda world: [
        row["total_opportunity_value"] for row in world.campaign_totals(start="2015-01-01")
    ],
}


def _whole_and_fractional(values: list) -> tuple[bool, bool]:
    numbers = [value for value in values if value is not None]
    return any(type(v) is int for v in numbers), any(type(v) is float and not v.is_integer() for v in numbers)


@pytest.mark.parametrize("field", NUMBER_FIELDS)
def test_a_spec_number_arrives_whole_in_some_items_and_fractional_in_others(world, field):
    assert _whole_and_fractional(NUMBER_FIELDS[field](world)) == (True, True)


@pytest.mark.parametrize("field", NUMBER_FIELDS)
def test_without_mixed_numbers_counts_limits_delays_and_deal_values_are_whole(field):
    unmixed = World(seed=7, sizes={**SIZES, "leads": 600}, mixed_numbers=False)
    assert _whole_and_fractional(NUMBER_FIELDS[field](unmixed)) == (True, False)


def test_references_point_at_real_items(world):
    campaigns, accounts = set(world.ids("campaigns")), set(world.ids("accounts"))
    leads = set(world.ids("leads"))
    lead_emails = {lead["email"] for lead in world.items("leads")}
    for email in world.items("emails"):
        assert email["eaccount"] in accounts
        assert email.get("campaign_id") in campaigns | {None}
        assert email["lead_id"] in leads and email["lead"] in lead_emails
    assert {log["campaign_id"] for log in world.items("audit_logs") if log.get("campaign_id")} <= campaigns
    assert {lead["campaign"] for lead in world.items("leads") if "campaign" in lead} <= campaigns
    assert all("warmup" in account for account in world.items("accounts"))


def test_world_update_bumps_timestamp_updated():
    world = World(seed=3, sizes={"leads": 50})
    before = {lead["id"]: lead for lead in world.items("leads")}
    updated = world.update("leads", 10)
    now = world.now().isoformat()[:16]
    assert len({lead["id"] for lead in updated}) == 10
    for lead in updated:
        assert lead["timestamp_updated"][:16] == now
        assert lead["timestamp_updated"] > before[lead["id"]]["timestamp_updated"]
        assert lead != before[lead["id"]]
    after = {lead["id"]: lead for lead in world.items("leads")}
    assert sum(after[i] != before[i] for i in before) == 10


def test_update_by_ids_with_explicit_changes_and_absent_keys():
    world = World(seed=3, sizes={"campaigns": 3})
    target = world.ids("campaigns")[1]
    (changed,) = world.update("campaigns", ids=[target], changes={"name": "Renamed ✨", "pl_value": ABSENT})
    assert changed["name"] == "Renamed ✨" and "pl_value" not in changed
    assert world.get("campaigns", target) == changed
    with pytest.raises(ValueError):
        world.update("campaigns", ids=[target], changes={"id": "x"})


def test_add_appends_items_created_now():
    world = World(seed=3, sizes={"leads": 20})
    added = world.add("leads", 5)
    assert world.ids("leads")[-5:] == [lead["id"] for lead in added]
    newest_before = max(lead["timestamp_created"] for lead in world.items("leads")[:-5])
    assert all(lead["timestamp_created"] > newest_before for lead in added)
    assert all(lead["timestamp_created"][:16] == world.now().isoformat()[:16] for lead in added)
    assert world.get("leads", added[0]["id"]) == added[0]


def test_add_field_reaches_every_item_without_touching_timestamp_updated():
    world = World(seed=3, sizes={"accounts": 4})
    before = world.items("accounts")
    world.add_field("accounts", "new_field_name", lambda account: account["email"].upper())
    world.add_field("accounts", "constant_field", 42)
    for old, new in zip(before, world.items("accounts"), strict=True):
        assert new == {**old, "new_field_name": old["email"].upper(), "constant_field": 42}
    assert world.add("accounts", 1)[0]["constant_field"] == 42


def test_remove_hides_items():
    world = World(seed=3, sizes={"campaigns": 4})
    ids = world.ids("campaigns")
    world.remove("campaigns", ids=ids[:2])
    assert world.ids("campaigns") == ids[2:]
    assert world.count("campaigns") == 2
    with pytest.raises(KeyError):
        world.remove("campaigns", ids=["no-such-id"])


def test_clock_is_real_time_plus_an_offset():
    world = World(seed=1)
    assert abs(world.now() - datetime.now(UTC)) < timedelta(seconds=1)
    world.advance(3600)
    assert abs(world.now() - datetime.now(UTC) - timedelta(hours=1)) < timedelta(seconds=1)


def test_a_million_leads_need_no_memory_up_front_and_any_page_is_fast():
    started = time.perf_counter()
    world = World(seed=1, sizes={"leads": 1_000_000})
    store = world.store("leads")
    assert store.count() == 1_000_000
    key = store.key(765_432)
    assert store.index_of(key) == 765_432
    lead = store.item(999_999)
    assert lead["id"] == store.key(999_999)
    assert time.perf_counter() - started < 2
