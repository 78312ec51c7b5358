"""Seeded values from the spec's schemas: one generator per property, compiled once.

``compile_object(schema)`` turns an object schema into a list of ``(name, generator)`` pairs; a value
is built by calling each generator with a random stream and the item's context (``factory.py`` pools
these for speed). Every property
of the schema is considered: enums pick from the spec's values, date-times are ISO strings with
milliseconds and ``Z``, optional keys are often absent and nullable ones sometimes null. Names that
mean something (``campaign_id``, ``email``, ``timestamp_*``, ...) get values that look real and refer
to real items of the world; entity-specific realism lives in ``realism.py``.
"""

import re
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from . import vocab
from .clock import iso_date, iso_ms
from .ids import random_uuid
from .rand import Rng


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""Marks a key that is not in the item at all (as opposed to ``None``, a JSON null)."""

ALWAYS_SET = frozenset({"organization", "organization_id"})
"""Properties that are always present and non-null whatever the schema says (the workspace id)."""
P_OPTIONAL_PRESENT = 0.72
P_NULL = 0.22
P_OTHER_KIND_OF_NUMBER = 0.3
"""With ``mixed_numbers``: how often a spec ``number`` drawn whole gets a half, and one drawn fractional is
rounded whole."""
_MIXING_STREAM = 0x313D
_UUID_EXAMPLE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HHMM = "^([01][0-9]|2[0-3]):([0-5][0-9])$"


class Refs(Protocol):
    """What generators may ask of the world (``World`` implements it): ids, pools, other entities' keys."""

    seed: int
    name: str
    org_id: str
    origin_ms: int
    anchor_ms: int
    users: list[tuple[str, str]]
    list_ids: list[str]
    subsequence_ids: list[str]
    tag_ids: list[str]
    custom_variables: list[tuple[str, str]]
    mixed_numbers: bool
    messy: bool

    def pick_key(self, entity: str, rng: Rng, before_ms: int | None = None) -> str | None: ...

    def pick_lead(self, rng: Rng, before_ms: int | None = None) -> tuple[str, "Identity"] | None: ...

    def lead_identity(self, index: int) -> "Identity": ...

    def account_identity(self, index: int) -> "Identity": ...


class Identity(NamedTuple):
    """Who a person is: display names, ASCII email, company."""

    first_name: str
    last_name: str
    email: str
    company_name: str
    company_domain: str


def person(rng: Rng, domain: str | None = None) -> Identity:
    return person_from(int(rng.random() * 0x7FFFFFFFFFFF), domain)


_FIRST = len(vocab.FIRST_NAMES)
_LAST = len(vocab.LAST_NAMES)
_COMPANY = len(vocab.COMPANIES)


def person_from(bits: int, domain: str | None = None) -> Identity:
    """A person from 40+ random bits (cheap: called once per generated lead)."""
    first, first_ascii = vocab.FIRST_NAMES[bits % _FIRST]
    bits //= _FIRST
    last, last_ascii = vocab.LAST_NAMES[bits % _LAST]
    bits //= _LAST
    company, company_domain = vocab.COMPANIES[bits % _COMPANY]
    bits //= _COMPANY
    style = bits & 3
    if style == 0:
        local = first_ascii + "." + last_ascii
    elif style == 1:
        local = first_ascii[0] + last_ascii
    elif style == 2:
        local = first_ascii
    else:
        local = first_ascii + str(bits % 97 + 1)
    return Identity(first, last, local + "@" + (domain or company_domain), company, company_domain)


class Ctx:
    """Per-item facts a generator may use."""

    __slots__ = ("refs", "index", "created_ms", "until_ms", "time_field")

    def __init__(self, refs: Refs, index: int, created_ms: int, until_ms: int, time_field: str) -> None:
        self.refs = refs
        self.index = index
        self.created_ms = created_ms
        self.until_ms = until_ms if until_ms > created_ms else created_ms
        self.time_field = time_field

    def moment_after(self, rng: Rng) -> int:
        """A moment between the item's creation and the end of the data (skewed towards creation)."""
        u = rng.random()
        return self.created_ms + int(u * u * (self.until_ms - self.created_ms))


Gen = Callable[[Rng, Ctx], Any]
Plan = list[tuple[str, Gen]]


def build(plan: Plan, rng: Rng, ctx: Ctx) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, gen in plan:
        value = gen(rng, ctx)
        if value is not ABSENT:
            item[name] = value
    return item


def compile_object(schema: dict[str, Any], skip: frozenset[str] = frozenset(), nested: bool = False) -> Plan:
    """One generator per property of an object schema (presence and nullability included)."""
    required = set(schema.get("required", []))
    plan: Plan = []
    for name, prop in schema.get("properties", {}).items():
        if name in skip:
            continue
        gen = compile_value(name, prop)
        can_be_null = nullable(prop)
        if name in required:
            if can_be_null and name not in ALWAYS_SET:
                gen = _maybe(gen, 1.0, P_NULL / 3)
        elif name not in ALWAYS_SET:
            gen = _maybe(gen, 0.85 if nested else P_OPTIONAL_PRESENT, P_NULL if can_be_null else 0.0)
        plan.append((name, gen))
    return plan


def _maybe(gen: Gen, p_present: float, p_null: float) -> Gen:
    p_null_cut = p_present * p_null

    def maybe(rng: Rng, ctx: Ctx) -> Any:
        u = rng.random()
        if u >= p_present:
            return ABSENT
        if u < p_null_cut:
            return None
        return gen(rng, ctx)

    return maybe


def nullable(prop: dict[str, Any]) -> bool:
    kind = prop.get("type")
    return prop.get("nullable", False) or (isinstance(kind, list) and "null" in kind)


def _type(prop: dict[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):
        rest = [k for k in kind if k != "null"]
        return rest[0] if rest else "null"
    if kind is None and "properties" in prop:
        return "object"
    return kind


def compile_value(name: str, prop: dict[str, Any]) -> Gen:
    """A generator for one value of ``prop`` (never absent, never null: callers wrap that)."""
    kind = _type(prop)
    if "enum" in prop and prop["enum"]:
        values = tuple(prop["enum"])
        return lambda rng, ctx: rng.choice(values)
    if kind == "string":
        return _string(name, prop)
    if kind in ("number", "integer"):
        return _number(name, prop, kind)
    if kind == "boolean":
        return lambda rng, ctx: rng.random() < 0.5
    if kind == "array":
        return _array(name, prop)
    if kind == "object":
        return _object(name, prop)
    if kind == "null":
        return lambda rng, ctx: None
    return lambda rng, ctx: rng.choice(vocab.WORDS)


def _string(name: str, prop: dict[str, Any]) -> Gen:
    fmt = prop.get("format")
    example = prop.get("example")
    lname = name.lower()
    if is_time(name, prop):
        return _moment
    if fmt == "date":
        return lambda rng, ctx: iso_date(ctx.moment_after(rng))
    if prop.get("pattern") == _HHMM:
        return lambda rng, ctx: f"{rng.between(6, 20):02d}:{rng.choice((0, 0, 15, 30, 45)):02d}"
    has_example = isinstance(example, str) and bool(example)
    if (
        has_example
        and _UUID_EXAMPLE.match(example)
        or not has_example
        and (lname == "id" or lname.endswith("_id"))
    ):
        return _reference(lname)
    if lname in ("organization",):
        return lambda rng, ctx: ctx.refs.org_id
    if lname in ("owned_by", "added_by", "modified_by", "uploaded_by_user", "assigned_to", "owner"):
        return lambda rng, ctx: rng.choice(ctx.refs.users)[0]
    if fmt == "email" or "email" in lname or lname in ("eaccount", "reply_to", "lead"):
        return lambda rng, ctx: person(rng).email
    if fmt == "uri" or lname.endswith("url") or lname in ("website", "domain") or lname.endswith("_domain"):
        return _url_or_domain(lname)
    if "phone" in lname:
        return lambda rng, ctx: (
            f"+{rng.between(1, 49)} {rng.between(100, 999)} {rng.between(1000000, 9999999)}"
        )
    if lname == "ip_address":
        return lambda rng, ctx: (
            f"{rng.between(11, 223)}.{rng.below(256)}.{rng.below(256)}.{rng.between(1, 254)}"
        )
    if lname == "user_agent":
        return lambda rng, ctx: rng.choice(vocab.USER_AGENTS)
    if lname in ("first_name", "firstname"):
        return lambda rng, ctx: rng.choice(vocab.FIRST_NAMES)[0]
    if lname in ("last_name", "lastname"):
        return lambda rng, ctx: rng.choice(vocab.LAST_NAMES)[0]
    if lname in ("user_name", "name"):
        return lambda rng, ctx: f"{rng.choice(vocab.FIRST_NAMES)[0]} {rng.choice(vocab.LAST_NAMES)[0]}"
    if lname in ("label", "title"):
        return lambda rng, ctx: rng.choice(vocab.TAG_LABELS)
    if lname == "subject":
        return lambda rng, ctx: rng.choice(vocab.SUBJECTS)
    if lname in ("company_name", "companyname"):
        return lambda rng, ctx: rng.choice(vocab.COMPANIES)[0]
    if lname in ("job_title", "jobtitle"):
        return lambda rng, ctx: rng.choice(vocab.JOB_TITLES)
    if lname in ("body", "text", "personalization", "signature", "content_preview", "message"):
        return lambda rng, ctx: " ".join(rng.sample(vocab.SENTENCES, 2)).format(company="your team")
    if isinstance(example, str) and example:
        return lambda rng, ctx: example if rng.random() < 0.7 else rng.choice(vocab.WORDS)
    return lambda rng, ctx: f"{rng.choice(vocab.WORDS)} {rng.choice(vocab.WORDS)}"


def is_time(name: str, prop: dict[str, Any]) -> bool:
    """A date-time string property (by format, or by a ``timestamp*`` / ``*_at`` / ``*_ts`` name)."""
    lname = name.lower()
    fmt = prop.get("format")
    if _type(prop) != "string" or "enum" in prop or fmt not in (None, "date-time"):
        return False
    return fmt == "date-time" or lname.startswith("timestamp") or lname.endswith(("_at", "_ts"))


def _moment(rng: Rng, ctx: Ctx) -> str:
    return iso_ms(ctx.moment_after(rng))


def _url_or_domain(lname: str) -> Gen:
    if lname.endswith("url") or lname == "website":
        return lambda rng, ctx: f"https://{rng.choice(vocab.COMPANIES)[1]}/{rng.choice(vocab.WORDS)}"
    return lambda rng, ctx: rng.choice(vocab.COMPANIES)[1]


def _reference(lname: str) -> Gen:
    if lname in ("organization_id", "organization", "workspace", "workspace_id"):
        return lambda rng, ctx: ctx.refs.org_id
    if lname == "campaign_id":
        return lambda rng, ctx: (
            ctx.refs.pick_key("campaigns", rng, ctx.created_ms) or random_uuid(rng.bits(48))
        )
    if lname == "lead_id":

        def lead_id(rng: Rng, ctx: Ctx) -> Any:
            found = ctx.refs.pick_lead(rng, ctx.created_ms)
            return found[0] if found else random_uuid(rng.bits(48))

        return lead_id
    if lname == "list_id":
        return lambda rng, ctx: rng.choice(ctx.refs.list_ids)
    if lname == "subsequence_id":
        return lambda rng, ctx: rng.choice(ctx.refs.subsequence_ids)
    if "tag" in lname:
        return lambda rng, ctx: rng.choice(ctx.refs.tag_ids)
    if lname in (
        "user_id",
        "owned_by",
        "added_by",
        "modified_by",
        "assigned_to",
        "uploaded_by_user",
        "owner",
    ):
        return lambda rng, ctx: rng.choice(ctx.refs.users)[0]
    return lambda rng, ctx: random_uuid(rng.bits(48))


def _number(name: str, prop: dict[str, Any], kind: str) -> Gen:
    example, high = prop.get("example"), prop.get("maximum")
    if kind == "number" and example in (0, 1) and high is None and name.lower().startswith(("is_", "ai_")):
        return lambda rng, ctx: rng.below(2)  # a flag: 0 or 1, never a fraction
    draw = _magnitude(name, prop, kind)
    return _mixed(draw, high) if kind == "number" else draw


def _magnitude(name: str, prop: dict[str, Any], kind: str) -> Gen:
    lname = name.lower()
    example = prop.get("example")
    low = prop.get("minimum", 0)
    high = prop.get("maximum")
    if (
        kind == "number"
        and isinstance(example, float)
        and 0 < example < 1
        or lname.endswith(("_rate", "_value"))
    ):
        top = float(high) if high is not None else 1.0
        return lambda rng, ctx: round(low + rng.random() * (top - low), 2)
    if lname.endswith("score") and high is None:
        return lambda rng, ctx: rng.between(int(low), 100)
    if "count" in lname:
        return lambda rng, ctx: int(rng.random() ** 3 * 12)
    if lname.endswith("limit") or lname.endswith("_max"):
        choices = tuple(v for v in (10, 20, 30, 40, 50, 100, 200) if high is None or v <= high)
        return lambda rng, ctx: rng.choice(choices or (low,))
    top = (
        high if high is not None else max(10, 2 * int(example)) if isinstance(example, (int, float)) else 100
    )
    top = max(int(top), int(low))
    return lambda rng, ctx: rng.between(int(low), top)


def _mixed(draw: Gen, high: float | None) -> Gen:
    """A spec ``number`` as a real workspace has them, in a world with ``mixed_numbers``: JSON allows ``3`` in
    one item and ``2.5`` in the next. Now and then a value drawn whole gets a half (a 1.5-day delay) and one
    drawn fractional is rounded whole (a 100% rate), which JSON then writes as an integer."""

    def mixed(rng: Rng, ctx: Ctx) -> Any:
        value = draw(rng, ctx)
        # a stream of its own, so that every other value of the world is the same with mixing on or off
        if not ctx.refs.mixed_numbers or Rng(rng.p, _MIXING_STREAM).random() >= P_OTHER_KIND_OF_NUMBER:
            return value
        if isinstance(value, float):
            return round(value)
        return value + 0.5 if high is None or value + 0.5 <= high else value - 0.5

    return mixed


def _array(name: str, prop: dict[str, Any]) -> Gen:
    items = prop.get("items", {})
    low = int(prop.get("minItems", 0))
    high = max(low, int(prop.get("maxItems", 3)) if "maxItems" in prop else low + 3)
    if not items:
        return lambda rng, ctx: [
            {"address": person(rng).email, "name": rng.choice(vocab.FIRST_NAMES)[0]}
            for _ in range(rng.between(1, 2))
        ]
    element = compile_value(name, items)
    if _type(items) == "string":  # lists of ids or addresses hold each value once
        return lambda rng, ctx: list(dict.fromkeys(element(rng, ctx) for _ in range(rng.between(low, high))))
    return lambda rng, ctx: [element(rng, ctx) for _ in range(rng.between(low, high))]


def _object(name: str, prop: dict[str, Any]) -> Gen:
    if prop.get("properties"):
        plan = compile_object(prop, nested=True)
        return lambda rng, ctx: build(plan, rng, ctx)
    return free_form


def free_form(rng: Rng, ctx: Ctx) -> dict[str, Any]:
    """A small object of user-defined keys (``additionalProperties: true`` without properties)."""
    return {
        name: any_json(rng, kind) for name, kind in rng.sample(ctx.refs.custom_variables, rng.between(0, 3))
    }


def any_json(rng: Rng, kind: str) -> Any:
    """A value of one JSON kind: str, int, float, bool, null, nested object/array, or mixed."""
    if kind == "mixed":
        kind = rng.choice(("str", "int", "float", "bool", "null", "nested"))
    if kind == "str":
        return rng.choice(
            (rng.choice(vocab.CITIES), rng.choice(vocab.INDUSTRIES), rng.choice(vocab.WORDS), "")
        )
    if kind == "int":
        return rng.between(0, 5000)
    if kind == "float":
        return round(rng.random() * 1000, 3)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "date":
        return iso_date(1_700_000_000_000 + rng.below(60_000_000_000))
    return {
        "source": rng.choice(vocab.WORDS),
        "score": rng.between(0, 100),
        "tags": rng.sample(vocab.WORDS, 2),
    }
