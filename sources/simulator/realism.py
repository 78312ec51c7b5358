"""Entity-specific touches on top of the generic schema generator (``generate.py``).

Each ``*_shape(schema)`` factory returns ``shape(item, rng, ctx)`` which fills the fields the registry
entry lists as ``owned`` (the generic generator skips those) and may adjust others. Sub-schemas come from
the spec, so enums and nested property names stay the spec's.
"""

from collections.abc import Callable
from typing import Any

from . import vocab
from .clock import iso_date, iso_ms
from .factory import Pool
from .generate import ABSENT, Ctx, Identity, any_json, build, compile_object, compile_value, person_from
from .ids import random_uuid
from .messy import mess_up_lead
from .rand import Rng, mix64

Shape = Callable[[dict[str, Any], Rng, Ctx], None]
Mutate = Callable[[dict[str, Any], Rng, Ctx], dict[str, Any]]


def _prop(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    node = schema
    for name in path:
        node = node["items"] if name == "[]" else node["properties"][name]
    return node


def _set_or_drop(item: dict[str, Any], name: str, value: Any) -> None:
    if value is ABSENT:
        item.pop(name, None)
    else:
        item[name] = value


def _touched(rng: Rng, ctx: Ctx) -> str:
    """``timestamp_updated`` of generated data: at or after creation, before the end of the data."""
    return iso_ms(ctx.created_ms if rng.random() < 0.3 else ctx.moment_after(rng))


def _html(text: str) -> str:
    return text.replace("\n", "<br/>")


# ---------------------------------------------------------------------------------------------- campaigns
def sequences_gen(schema: dict[str, Any], max_steps: int = 5) -> Callable[[Rng, Ctx], list[dict[str, Any]]]:
    """``sequences`` of a campaign or subsequence: one sequence of steps, each with 1-3 variants."""
    step_schema = _prop(schema, "sequences", "[]", "steps", "[]")
    step_plan = compile_object(step_schema, skip=frozenset({"variants", "type", "delay"}), nested=True)
    step_type = compile_value("type", _prop(step_schema, "type"))
    variant_extra = compile_object(_prop(step_schema, "variants", "[]"), skip=frozenset({"subject", "body"}))

    def sequences(rng: Rng, ctx: Ctx) -> list[dict[str, Any]]:
        steps = []
        for position in range(rng.between(1, max_steps)):
            step = {"type": step_type(rng, ctx), "delay": 0 if position == 0 else rng.between(1, 5)}
            step.update(build(step_plan, rng, ctx))
            variants = []
            for _ in range(rng.between(1, 3)):
                subject = rng.choice(vocab.SUBJECTS) if position == 0 else ""
                lines = rng.sample(vocab.SENTENCES, 3)
                body = "Hi {{firstName}},\n\n" + "\n".join(lines).format(company="{{companyName}}")
                variant = {"subject": subject, "body": _html(body)}
                variant.update(build(variant_extra, rng, ctx))
                variants.append(variant)
            step["variants"] = variants
            steps.append(step)
        return [{"steps": steps}]

    return sequences


def campaign_shape(schema: dict[str, Any]) -> Shape:
    sequences = sequences_gen(schema)
    schedule = compile_value("campaign_schedule", _prop(schema, "campaign_schedule"))

    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        item["name"] = rng.choice(vocab.CAMPAIGN_NAMES).format(
            q=rng.between(1, 4), y=iso_date(ctx.created_ms)[:4], n=rng.between(1, 40)
        )
        item["sequences"] = sequences(rng, ctx)
        item["campaign_schedule"] = {} if rng.random() < 0.12 else fix_schedule(schedule(rng, ctx), rng)
        item["email_list"] = [ctx.refs.pick_key("accounts", rng) for _ in range(rng.between(0, 4))]
        item["email_list"] = [email for email in dict.fromkeys(item["email_list"]) if email]
        item["timestamp_updated"] = _touched(rng, ctx)

    return shape


_SCHEDULE_NAMES = ("New schedule", "Business hours", "Mornings ☀️", "Horario laboral", "営業時間", "Weekdays")


def fix_schedule(value: dict[str, Any], rng: Rng) -> dict[str, Any]:
    """Sensible names and hours on a generated ``campaign_schedule`` (``from`` before ``to``)."""
    for entry in value.get("schedules") or []:
        entry["name"] = rng.choice(_SCHEDULE_NAMES)
        start = rng.between(6, 11)
        entry["timing"] = {
            "from": f"{start:02d}:00",
            "to": f"{start + rng.between(4, 9):02d}:{rng.choice((0, 30)):02d}",
        }
        entry["days"] = {str(day): day not in (0, 6) or rng.random() < 0.1 for day in range(7)}
    return value


def campaign_mutate(item: dict[str, Any], rng: Rng, ctx: Ctx) -> dict[str, Any]:
    changes: dict[str, Any] = {"status": rng.choice((0, 1, 1, 2, 3))}
    if rng.random() < 0.5:
        changes["daily_limit"] = rng.choice((20, 50, 100, 250))
    if rng.random() < 0.3:
        changes["name"] = f"{item.get('name', 'Campaign')} (v{rng.between(2, 9)})"
    return changes


# ---------------------------------------------------------------------------------------------- accounts
def account_shape(schema: dict[str, Any]) -> Shape:
    warmup = compile_value("warmup", _prop(schema, "warmup"))
    status_message = compile_value("status_message", _prop(schema, "status_message"))

    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        person = ctx.refs.account_identity(ctx.index)
        item["first_name"] = person.first_name
        item["last_name"] = person.last_name
        item["warmup"] = warmup(rng, ctx)
        status = item.get("status")
        if isinstance(status, (int, float)) and status < 0 or rng.random() < 0.1:
            item["status_message"] = status_message(rng, ctx)
        item["timestamp_updated"] = _touched(rng, ctx)
        item["tags"] = ctx.refs.tags_of(item["email"]) if item.get("email") else []

    return shape


def account_key(refs: Any, index: int) -> str:
    return refs.account_identity(index).email


def account_mutate(item: dict[str, Any], rng: Rng, ctx: Ctx) -> dict[str, Any]:
    changes: dict[str, Any] = {"daily_limit": rng.choice((20, 30, 50, 80))}
    if rng.random() < 0.5:
        changes["stat_warmup_score"] = rng.between(40, 100)
    if rng.random() < 0.3:
        changes["status"] = rng.choice((1, 2, -1))
    return changes


# ------------------------------------------------------------------------------------------------- leads
_PAYLOAD_COPIES = (("job_title", "jobTitle"), ("phone", "phone"), ("personalization", "personalization"))


def lead_identity(refs: Any, index: int) -> Identity:
    return person_from(hash((refs.seed, 0x1EAD, index)) & 0x7FFFFFFFFFFFFFFF)


def _custom_variables(rng: Rng, ctx: Ctx) -> dict[str, Any]:
    chosen = rng.sample(ctx.refs.custom_variables, rng.between(0, 8))
    return {name: any_json(rng, kind) for name, kind in chosen}


def lead_shape(schema: dict[str, Any]) -> Shape:
    summary = compile_value("status_summary", _prop(schema, "status_summary"))

    def situation(rng: Rng, ctx: Ctx) -> tuple[dict[str, Any], tuple[str, ...], float | None, bool]:
        """Where a lead stands, pooled: (fields, keys to drop, last-contact fraction, has website)."""
        fields: dict[str, Any] = {}
        if rng.random() < 0.8:
            campaign = ctx.refs.pick_key("campaigns", rng)
            if campaign:
                fields["campaign"] = campaign
        if "campaign" not in fields or rng.random() < 0.2:
            fields["list_id"] = rng.choice(ctx.refs.list_ids)
        if rng.random() < 0.6:  # contacted; "" now and then, as the API does
            fields["status_summary"] = summary(rng, ctx)
            return fields, (), -1.0 if rng.random() < 0.03 else rng.random() ** 2, rng.random() < 0.7
        fields["status_summary"] = {}
        fields.update(email_open_count=0, email_reply_count=0, email_click_count=0)
        drop = ("timestamp_last_open", "timestamp_last_reply", "timestamp_last_click")
        return fields, drop, None, rng.random() < 0.7

    situations = Pool(situation, 0x5171, size=256)
    custom = Pool(_custom_variables, 0xC057, size=256)

    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        who = ctx.refs.lead_identity(ctx.index)
        fields, drop, contact, website = situations.pick(rng, ctx)
        item.update(fields)
        for name in drop:
            item.pop(name, None)
        first, last, _, company, domain = who
        item["first_name"] = first
        item["last_name"] = last
        item["email"] = who.email
        item["company_name"] = company
        item["company_domain"] = domain
        payload: dict[str, Any] = {"firstName": first, "lastName": last, "companyName": company}
        if website:
            item["website"] = payload["website"] = "https://" + domain
        for field, camel in _PAYLOAD_COPIES:
            value = item.get(field)
            if value:
                payload[camel] = value
        payload.update(custom.pick(rng, ctx))
        item["payload"] = payload
        created = ctx.created_ms
        span = ctx.until_ms - created
        if contact is not None:
            item["timestamp_last_contact"] = "" if contact < 0 else iso_ms(created + int(contact * span))
        item["timestamp_updated"] = iso_ms(created + int(rng.random() ** 2 * span))
        if ctx.refs.messy:  # last, from a stream of its own: the clean world stays as it is
            mess_up_lead(item, ctx.refs.seed, ctx.index)

    return shape


def lead_mutate(item: dict[str, Any], rng: Rng, ctx: Ctx) -> dict[str, Any]:
    """Activity on a lead: contacted, opened, replied, interest changed, a custom variable edited."""
    now = iso_ms(ctx.until_ms)
    changes: dict[str, Any] = {"timestamp_last_contact": now}
    roll = rng.random()
    if roll < 0.5:
        changes["email_open_count"] = int(item.get("email_open_count") or 0) + 1
        changes["timestamp_last_open"] = now
    elif roll < 0.75:
        changes["email_reply_count"] = int(item.get("email_reply_count") or 0) + 1
        changes["timestamp_last_reply"] = now
        changes["lt_interest_status"] = rng.choice((1, 2, -1, 0))
    else:
        changes["status"] = rng.choice((1, 2, 3, -1, -2))
    if rng.random() < 0.3:
        payload = dict(item.get("payload") or {})
        name, kind = rng.choice(ctx.refs.custom_variables)
        payload[name] = any_json(rng, kind)
        changes["payload"] = payload
    return changes


# ------------------------------------------------------------------------------------------------ emails
def email_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        found = ctx.refs.pick_lead(rng, ctx.created_ms)
        if found:
            lead_id, who = found
            item["lead_id"] = lead_id
        else:
            lead_id, who = None, ctx.refs.lead_identity(ctx.index + 7_000_000)
            item.pop("lead_id", None)
        item["lead"] = who.email
        account = ctx.refs.pick_key("accounts", rng) or f"outreach@{who.company_domain}"
        item["eaccount"] = account
        campaign = ctx.refs.pick_key("campaigns", rng, ctx.created_ms)
        if campaign and rng.random() < 0.85:
            item["campaign_id"] = campaign
        elif "campaign_id" in item:
            item["campaign_id"] = None
        received = item.get("ue_type") == 2
        item["from_address_email"] = who.email if received else account
        item["to_address_email_list"] = account if received else who.email
        subject = rng.choice(vocab.SUBJECTS).replace("{{firstName}}", who.first_name)
        subject = subject.replace("{{companyName}}", who.company_name)
        item["subject"] = f"Re: {subject}" if received else subject
        greeting = "Hi," if received else f"Hi {who.first_name},"
        lines = [line.format(company=who.company_name) for line in rng.sample(vocab.SENTENCES, 3)]
        text = greeting + "\n\n" + "\n".join(lines)
        item["body"] = {"text": text, "html": f"<div>{_html(text)}</div>"}
        if rng.random() < 0.8:
            item["content_preview"] = text[:120]
        else:
            item.pop("content_preview", None)
        thread_key = mix64(ctx.refs.seed, 0x7EAD, int(lead_id[-8:], 16) if lead_id else ctx.index)
        item["thread_id"] = random_uuid(thread_key)
        item["message_id"] = (
            f"<{random_uuid(mix64(ctx.refs.seed, ctx.index, 9)).replace('-', '')}@mail.gmail.com>"
        )
        item["timestamp_email"] = iso_ms(ctx.created_ms - rng.below(600_000))

    return shape


def email_preview(item: dict[str, Any]) -> dict[str, Any]:
    """``preview_only=true``: the body is left out, only ``content_preview`` describes the content."""
    preview = {name: value for name, value in item.items() if name != "body"}
    if not preview.get("content_preview"):
        text = (item.get("body") or {}).get("text") or ""
        preview["content_preview"] = text[:120]
    return preview


def email_mutate(item: dict[str, Any], rng: Rng, ctx: Ctx) -> dict[str, Any]:
    return {"is_unread": 0, "i_status": rng.choice((0, 1, 2, -1))}


# -------------------------------------------------------------------------------------------- audit logs
def audit_shape(schema: dict[str, Any]) -> Shape:
    campaign_types = {3, 4, 5, 11}

    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        user_id, user_name = rng.choice(ctx.refs.users)
        item["user_id"] = user_id
        item["user_name"] = user_name
        if item.get("activity_type") in campaign_types:
            item["campaign_id"] = ctx.refs.pick_key("campaigns", rng)
        if not item.get("from_api"):
            item.pop("api_key_id", None)
        item["audit_metadata"] = {
            "source": "api" if item.get("from_api") else "app",
            **{k: any_json(rng, kind) for k, kind in rng.sample(ctx.refs.custom_variables, 1)},
        }

    return shape


# --------------------------------------------------------------------------------------------- workspace
def workspace_object(schema: dict[str, Any], refs: Any) -> dict[str, Any]:
    """``GET /workspaces/current``: the one workspace of the key, from the spec's Workspace schema."""
    rng = Rng(refs.seed, 0x3B5)
    ctx = Ctx(refs, 0, refs.origin_ms, refs.anchor_ms, "timestamp_created")
    item = {"id": refs.org_id, "timestamp_created": iso_ms(refs.origin_ms)}
    item.update(build(compile_object(schema, skip=frozenset(item)), rng, ctx))
    item["owner"] = refs.users[0][0]
    item["name"] = refs.name
    item["timestamp_updated"] = _touched(rng, ctx)
    _set_or_drop(item, "scheduled_for_removal_at", None if rng.random() < 0.5 else ABSENT)
    return item
