"""A messy workspace (``World(messy=True)``, ``python -m sources.simulator --messy``): leads as real
workspaces hold them after years of CSV imports, enrichment tools and copy-paste.

On top of the clean world (whose spec numbers already arrive as ``3`` in one lead and ``2.5`` in the next,
``mixed_numbers``), some leads get:

* names and company names in scripts and forms that tools trip over: emoji (with joiners), Arabic and
  Hebrew (right to left), CJK, and invisible characters pasted along (U+200B, U+200D, U+FEFF);
* a 10,000-character string (a pasted email thread, a scraped page) in ``personalization`` or in the
  payload;
* payload keys a user typed (``with.dot``, ``2ndTouch``, ``名前``, ``a b``, ``UPPER``, ``with-dash``) with
  text, numbers, booleans and nulls;
* an enrichment object nested four levels deep in the payload, sometimes with lists inside;
* payload keys whose type changes from lead to lead: a number whole in one and fractional in the next, and
  one that is a string, a number or an object;
* a top-level field the spec does not document, a number whole in some leads and fractional in others.

Every share below is per lead and independent of the others. Together (seed 3, 4,000 leads): about 30% of
the leads are the clean world's (but for the undocumented field, null in most leads), about 30% have a
payload whose shape or types would surprise a table schema (typed keys, the enrichment object, a list, a
``crm_ref`` that is not a string, a long string), and the rest differ only in text or in a number's kind.

Each lead draws from its own stream ``(seed, MESSY_STREAM, index)``, apart from every stream of the clean
world: a messy world is the clean one plus these changes, and the clean world is the same with or without
this module.
"""

import random
from functools import cache
from typing import Any

from . import vocab
from .rand import Rng

MESSY_STREAM = 0x3E55

# Shares per lead, each with why it is about that common. Real lists mix imported, scraped and typed leads;
# these are rough orders of magnitude from such lists, not measurements of one workspace.
P_UNUSUAL_NAME = 0.12
"""First or last name from the unusual-script pool (emoji, Arabic, Hebrew, CJK): international lists and
people who put an emoji in their LinkedIn name."""
P_INVISIBLE = 0.03
"""A zero-width space or joiner, or a byte order mark, pasted into a name (a CSV saved by Excel starts with
U+FEFF; names copied from web pages carry U+200B)."""
P_UNUSUAL_COMPANY = 0.05
"""Company name with an emoji, in a right-to-left script, or with an invisible character."""
P_LONG_TEXT = 0.004
"""A 10,000-character string: a few leads in a thousand have a pasted thread or page as their notes."""
P_TYPED_KEYS = 0.15
"""Payload keys a user typed in the app or a CSV header (1 to 3 of ``TYPED_KEYS``): the leads of one or two
imports of a workspace's many."""
P_ENRICHMENT = 0.10
"""An enrichment tool's object, four levels deep: one lead in ten went through one."""
P_LIST_IN_ENRICHMENT = 0.3
"""Of those, a list inside (technologies, funding rounds): enrichment data is full of lists."""
P_PAYLOAD_LIST = 0.04
"""A list right in the payload (``touchpoints``): imports from CRMs that export multi-value fields."""
P_DEAL_SIZE = 0.25
"""A number the user types: whole (``3``) or not (``2.5``), half each."""
P_SHIFTING = 0.20
"""``crm_ref``, written by several integrations: a string in most leads, a number in some, an object in a
few (``SHIFTING_KINDS``)."""
SHIFTING_KINDS = (("str", 0.6), ("number", 0.25), ("object", 0.15))
P_LEAD_SCORE = 0.3
"""``lead_score``, a field the spec does not document, on every lead (APIs return fields before their spec
names them; the world's ``add_field`` does the same): a number in this share of the leads, null in the
rest. Nothing declares its column."""
P_FRACTIONAL_SCORE = 0.3
"""Of the scores, those with a half (``2.5``); the others are whole (``3``): the share ``mixed_numbers`` gives
the other kind of number (``generate.P_OTHER_KIND_OF_NUMBER``)."""
UNDOCUMENTED_NUMBER = "lead_score"
P_MESSY_TEXT = 0.15
"""A payload text value (``icebreaker``) with emoji, right-to-left or CJK text, or an invisible character."""

LONG_TEXT_CHARS = 10_000
INVISIBLE = ("\u200b", "\u200d", "\ufeff")
TYPED_KEYS = ("with.dot", "2ndTouch", "名前", "a b", "UPPER", "with-dash")

UNUSUAL_FIRST_NAMES = (
    "محمد",
    "فاطمة",
    "יעל",
    "אברהם",
    "王芳",
    "佐藤",
    "김민준",
    "Zoë 🚀",
    "Sam 👋",
    "👨‍👩‍👧 Family",  # a family emoji: people joined by U+200D
    "Ana-María ✨",
    "Nguyễn",
)
UNUSUAL_LAST_NAMES = (
    "العلي",
    "بن سعيد",
    "כהן",
    "לוי",
    "山田",
    "陳",
    "박",
    "O'Brien 🍀",
    "Smith (she/her) 🌈",
    "Trần",
)
UNUSUAL_COMPANIES = (
    "شركة النور",
    "אור טכנולוגיות בע״מ",
    "株式会社ミライ 🚀",
    "北京云科技有限公司",
    "Rocket Labs 🚀🚀",
    "Acme\u200b Corp",
    "\ufeffGlobex GmbH",
    "Café ☕ & Co",
)
MESSY_TEXTS = (
    "Loved your talk 🎤🔥",
    "مرحبا، شكرا على وقتك",
    "שלום! נדבר בשבוע הבא",
    "会议纪要：下周二跟进",
    "お世話になっております。",
    "mixed עברית and English 123",
    "zero\u200bwidth\u200dinside",
    "\ufeffstarts with a BOM",
    "👍🏽👍🏿 thumbs with skin tones",
    "RTL mark \u200fهنا\u200e done",
)


@cache
def long_texts() -> tuple[str, ...]:
    """A few strings of exactly ``LONG_TEXT_CHARS`` characters: sentences in many scripts, emoji, newlines."""
    draw = random.Random(0x10C6)
    pieces = (*vocab.SENTENCES, *MESSY_TEXTS)
    texts = []
    for _ in range(4):
        parts: list[str] = []
        size = 0
        while size < LONG_TEXT_CHARS:
            part = draw.choice(pieces).format(company="Acme") + draw.choice((" ", "\n", "\n\n> "))
            parts.append(part)
            size += len(part)
        texts.append("".join(parts)[:LONG_TEXT_CHARS])
    return tuple(texts)


def _invisible(rng: Rng, text: str) -> str:
    mark = rng.choice(INVISIBLE)
    if mark == "\ufeff" or not text:
        return mark + text  # a byte order mark leads, as in the first cell of a CSV
    at = rng.between(0, len(text))
    return text[:at] + mark + text[at:]


def _scalar(rng: Rng) -> Any:
    """A payload value a user typed: text in any script, a number, a boolean or null."""
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(MESSY_TEXTS)
    if roll < 0.55:
        return rng.between(0, 500)
    if roll < 0.7:
        return rng.between(0, 500) + 0.5
    if roll < 0.85:
        return rng.random() < 0.5
    return None


def _enrichment(rng: Rng) -> dict[str, Any]:
    """An enrichment object four levels deep (payload > enrichment > company > social > handles)."""
    handles: dict[str, Any] = {
        "twitter": "@" + rng.choice(vocab.WORDS),
        "linkedin.url": "https://linkedin.com/company/" + rng.choice(vocab.WORDS),
        "verified": rng.random() < 0.5,
        "followers": rng.between(0, 90_000) if rng.random() < 0.7 else None,
    }
    company: dict[str, Any] = {
        "name": rng.choice(UNUSUAL_COMPANIES) if rng.random() < 0.3 else rng.choice(vocab.COMPANIES)[0],
        "employees": rng.between(1, 5000),
        "social": {"handles": handles, "UPPER": rng.choice(vocab.WORDS)},
    }
    if rng.random() < P_LIST_IN_ENRICHMENT:
        if rng.random() < 0.5:
            company["technologies"] = rng.sample(("HubSpot", "Salesforce", "Stripe", "Segment", "AWS"), 2)
        else:
            company["funding_rounds"] = [
                {"round": round_, "amount": rng.between(1, 50) * 500_000} for round_ in ("seed", "A")
            ]
    return {"provider": rng.choice(("clay", "apollo", "clearbit")), "company": company, "score": _scalar(rng)}


def _shifting(rng: Rng) -> Any:
    """``crm_ref``: a string, a number or an object, in the shares of ``SHIFTING_KINDS``."""
    roll = rng.random()
    kind = next((kind for kind, upto in _SHIFTING_UPTO if roll < upto), "object")
    if kind == "str":
        return f"CRM-{rng.between(1000, 99999)}"
    if kind == "number":
        return rng.between(1000, 99999)
    return {"system": rng.choice(("hubspot", "salesforce", "pipedrive")), "id": rng.between(1000, 99999)}


_SHIFTING_UPTO = tuple(
    (kind, sum(share for _, share in SHIFTING_KINDS[: k + 1])) for k, (kind, _) in enumerate(SHIFTING_KINDS)
)


def mess_up_lead(item: dict[str, Any], seed: int, index: int) -> None:
    """Make generated lead ``index`` messy, in place. Sets keys only: nested values of generated items may be
    shared with other items (pools), so they are replaced, never changed."""
    rng = Rng(seed, MESSY_STREAM, index)
    payload = dict(item.get("payload") or {})
    if rng.random() < P_UNUSUAL_NAME:
        field, pool = (
            ("first_name", UNUSUAL_FIRST_NAMES) if rng.random() < 0.6 else ("last_name", UNUSUAL_LAST_NAMES)
        )
        item[field] = rng.choice(pool)
    if rng.random() < P_INVISIBLE:
        field = "first_name" if rng.random() < 0.6 else "last_name"
        item[field] = _invisible(rng, item.get(field) or "")
    if rng.random() < P_UNUSUAL_COMPANY:
        item["company_name"] = rng.choice(UNUSUAL_COMPANIES)
    for field, camel in (
        ("first_name", "firstName"),
        ("last_name", "lastName"),
        ("company_name", "companyName"),
    ):
        if camel in payload:
            payload[camel] = item.get(field)
    if rng.random() < P_LONG_TEXT:
        text = rng.choice(long_texts())
        if rng.random() < 0.5:
            item["personalization"] = payload["personalization"] = text
        else:
            payload["notes"] = text
    if rng.random() < P_TYPED_KEYS:
        for key in rng.sample(TYPED_KEYS, rng.between(1, 3)):
            payload[key] = _scalar(rng)
    if rng.random() < P_ENRICHMENT:
        payload["enrichment"] = _enrichment(rng)
    if rng.random() < P_PAYLOAD_LIST:
        payload["touchpoints"] = (
            [rng.choice(("webinar", "ebook", "demo")) for _ in range(rng.between(1, 3))]
            if rng.random() < 0.5
            else [{"kind": "visit", "page": "/pricing", "at": "2026-03-0" + str(rng.between(1, 9))}]
        )
    if rng.random() < P_DEAL_SIZE:
        payload["deal_size"] = rng.between(1, 20) + (0.5 if rng.random() < 0.5 else 0)
    if rng.random() < P_SHIFTING:
        payload["crm_ref"] = _shifting(rng)
    if rng.random() < P_MESSY_TEXT:
        payload["icebreaker"] = rng.choice(MESSY_TEXTS)
    item["payload"] = payload
    score = None
    if rng.random() < P_LEAD_SCORE:
        score = rng.between(0, 9) + (0.5 if rng.random() < P_FRACTIONAL_SCORE else 0)
    item[UNDOCUMENTED_NUMBER] = score
