"""The messy world (`World(messy=True)`): reproducible, carrying each kind of surprising value in a minority
of leads, and leaving the clean world exactly as it was."""

import hashlib
import unicodedata
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

import sources.simulator as simulator_package
from pipelines import cli
from sources.simulator import World, messy
from sources.simulator import __main__ as simulator_main

from .conftest import SIZES

ANCHOR = datetime(2026, 11, 1, 23, tzinfo=UTC)
GOLDEN_SIZES = {"campaigns": 5, "accounts": 12, "leads": 400, "emails": 120, "audit_logs": 90}
# sha256 (first 16 hex digits) of each entity's items in the clean world of seed 7 at ANCHOR, as generated
# before the messy mode existed. A deliberate change to the clean world's data updates these.
CLEAN_DIGESTS = {
    "leads": "8081446815162052",
    "campaigns": "93b1bf19bd5d9e44",
    "accounts": "cb0e2e4cfd2e3c4a",
    "emails": "6f202fb400275d7e",
    "audit_logs": "ff448ad558bd5387",
}
LEADS = 4000


def _digest(items: list[dict[str, Any]]) -> str:
    return hashlib.sha256(orjson.dumps(items)).hexdigest()[:16]


@pytest.fixture(scope="module")
def messy_leads() -> list[dict[str, Any]]:
    return World(seed=3, sizes={**SIZES, "leads": LEADS}, anchor=ANCHOR, messy=True).items("leads")


@pytest.fixture(scope="module")
def clean_leads() -> list[dict[str, Any]]:
    return World(seed=3, sizes={**SIZES, "leads": LEADS}, anchor=ANCHOR).items("leads")


def _strings(value: Any) -> list[str]:
    """Every string in `value`, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *_strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _depth(value: Any) -> int:
    """Levels of objects below `value` (a flat object is 1)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((_depth(v) for v in value), default=0)
    return 0


def _share(leads: list[dict[str, Any]], test) -> float:
    return sum(1 for lead in leads if test(lead)) / len(leads)


def test_the_clean_world_is_byte_identical_to_before_the_messy_mode():
    world = World(seed=7, sizes=GOLDEN_SIZES, anchor=ANCHOR)
    assert {entity: _digest(world.items(entity)) for entity in CLEAN_DIGESTS} == CLEAN_DIGESTS
    assert World(seed=7, sizes=GOLDEN_SIZES, anchor=ANCHOR, messy=False).items("leads") == world.items(
        "leads"
    )


def test_a_messy_world_changes_only_its_leads_and_keeps_their_keys_and_times(messy_leads, clean_leads):
    clean = World(seed=3, sizes=SIZES, anchor=ANCHOR)
    dirty = World(seed=3, sizes=SIZES, anchor=ANCHOR, messy=True)
    for entity in ("campaigns", "accounts", "emails", "audit_logs"):
        assert dirty.items(entity) == clean.items(entity), entity
    assert messy_leads != clean_leads
    assert all(messy.UNDOCUMENTED_NUMBER not in lead for lead in clean_leads)
    kept = ("id", "email", "timestamp_created", "timestamp_updated", "status", "campaign", "email_open_count")
    for dirty_lead, clean_lead in zip(messy_leads, clean_leads, strict=True):
        assert {k: dirty_lead.get(k) for k in kept} == {k: clean_lead.get(k) for k in kept}


def test_the_same_seed_gives_the_same_messy_leads_and_another_seed_does_not(messy_leads):
    again = World(seed=3, sizes={**SIZES, "leads": LEADS}, anchor=ANCHOR, messy=True).items("leads")
    assert _digest(again) == _digest(messy_leads)
    other = World(seed=4, sizes={**SIZES, "leads": LEADS}, anchor=ANCHOR, messy=True).items("leads")
    assert [lead["payload"] for lead in other] != [lead["payload"] for lead in messy_leads]


def _names(lead: dict[str, Any]) -> str:
    return " ".join(lead.get(field) or "" for field in ("first_name", "last_name", "company_name"))


def _script(text: str, prefix: str) -> bool:
    return any(unicodedata.name(ch, "").startswith(prefix) for ch in text)


@pytest.mark.parametrize(
    "test",
    [
        pytest.param(lambda text: any(ord(ch) >= 0x1F300 for ch in text), id="emoji"),
        pytest.param(
            lambda text: "\u200d" in text and any(ord(ch) >= 0x1F300 for ch in text), id="emoji_zwj"
        ),
        pytest.param(lambda text: _script(text, "ARABIC"), id="arabic"),
        pytest.param(lambda text: _script(text, "HEBREW"), id="hebrew"),
        pytest.param(lambda text: _script(text, "CJK") or _script(text, "HANGUL"), id="cjk"),
        pytest.param(lambda text: "\u200b" in text, id="zero_width_space"),
        pytest.param(lambda text: "\ufeff" in text, id="byte_order_mark"),
    ],
)
def test_names_and_payload_text_carry_emoji_rtl_cjk_and_invisible_characters(messy_leads, test):
    assert any(test(_names(lead)) for lead in messy_leads)
    assert any(test(" ".join(_strings(lead["payload"]))) for lead in messy_leads)


def test_some_leads_carry_a_ten_thousand_character_string(messy_leads):
    def longest(lead: dict[str, Any]) -> int:
        return max(len(s) for s in [*_strings(lead["payload"]), lead.get("personalization") or ""])

    long = [lead for lead in messy_leads if longest(lead) == messy.LONG_TEXT_CHARS]
    assert 0 < len(long) < 0.02 * len(messy_leads)
    assert any(len(lead.get("personalization") or "") == messy.LONG_TEXT_CHARS for lead in long)


def test_payloads_hold_typed_keys_four_levels_of_nesting_lists_nulls_and_booleans(messy_leads):
    payloads = [lead["payload"] for lead in messy_leads]
    for key in messy.TYPED_KEYS:
        assert any(key in payload for payload in payloads), key
    assert max(_depth(payload) for payload in payloads) >= 4
    assert any(isinstance(v, list) for payload in payloads for v in payload.values())
    assert any(
        isinstance(v, list)
        for payload in payloads
        for v in payload.get("enrichment", {}).get("company", {}).values()
    )
    values = [v for payload in payloads for key, v in payload.items() if key in messy.TYPED_KEYS]
    assert None in values and True in values and False in values


def test_a_payload_key_is_a_string_a_number_or_an_object_depending_on_the_lead(messy_leads):
    kinds = {type(lead["payload"]["crm_ref"]) for lead in messy_leads if "crm_ref" in lead["payload"]}
    assert kinds == {str, int, dict}


@pytest.mark.parametrize("where", ["payload.deal_size", "email_open_count", messy.UNDOCUMENTED_NUMBER])
def test_numbers_arrive_whole_in_some_leads_and_fractional_in_others(messy_leads, where):
    if where.startswith("payload."):
        values = [lead["payload"].get(where.split(".")[1]) for lead in messy_leads]
    else:
        values = [lead.get(where) for lead in messy_leads]
    kinds = {type(v) for v in values if v is not None}
    assert kinds == {int, float}
    assert any(isinstance(v, float) and not v.is_integer() for v in values)


@pytest.mark.parametrize(
    ("name", "test", "share"),
    [
        (
            "unusual name",
            lambda lead: lead["first_name"] in messy.UNUSUAL_FIRST_NAMES,
            messy.P_UNUSUAL_NAME * 0.6,
        ),
        ("typed keys", lambda lead: any(k in lead["payload"] for k in messy.TYPED_KEYS), messy.P_TYPED_KEYS),
        ("enrichment", lambda lead: "enrichment" in lead["payload"], messy.P_ENRICHMENT),
        ("shifting key", lambda lead: "crm_ref" in lead["payload"], messy.P_SHIFTING),
        ("list in payload", lambda lead: "touchpoints" in lead["payload"], messy.P_PAYLOAD_LIST),
    ],
)
def test_each_surprise_comes_in_about_its_documented_share_of_leads(messy_leads, name, test, share):
    assert _share(messy_leads, test) == pytest.approx(share, abs=0.025), name


def _surprising(lead: dict[str, Any]) -> bool:
    """A payload whose shape or types a table schema would trip over (not just text or a number)."""
    payload = lead["payload"]
    return (
        any(key in payload for key in (*messy.TYPED_KEYS, "enrichment", "touchpoints"))
        or not isinstance(payload.get("crm_ref", ""), str)
        or len(str(payload.get("notes"))) == messy.LONG_TEXT_CHARS
    )


def test_surprising_payloads_are_a_minority_and_a_quarter_of_leads_is_untouched(messy_leads, clean_leads):
    assert 0.2 < _share(messy_leads, _surprising) < 0.45

    def without_undocumented(lead: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in lead.items() if k != messy.UNDOCUMENTED_NUMBER}

    pairs = zip(messy_leads, clean_leads, strict=True)
    untouched = sum(1 for d, c in pairs if without_undocumented(d) == c)
    assert 0.15 < untouched / len(messy_leads) < 0.5


def test_the_simulator_command_serves_a_messy_world_with_messy(monkeypatch):
    served = []
    monkeypatch.setattr(simulator_main, "serve", lambda **kwargs: served.append(kwargs))
    simulator_main.main(["--leads", "10"])
    simulator_main.main(["--leads", "10", "--messy"])
    assert [kwargs["messy"] for kwargs in served] == [False, True]


def test_instantly_sync_simulate_serves_a_messy_world_with_messy(monkeypatch):
    served = []
    monkeypatch.setattr(simulator_package, "serve", lambda **kwargs: served.append(kwargs))
    assert cli.main(["simulate", "--messy"]) == 0
    assert served[0]["messy"] is True
