"""Realism for the workspace's other lists: lead lists and labels, tags, block list, subsequences,
webhooks and their events, members, API keys, background jobs, inbox placement tests and results.

Same contract as ``realism.py``: ``*_shape(schema)`` returns ``shape(item, rng, ctx)`` that fills the
entry's ``owned_fields`` and fixes others so references point at real items of the world.
"""

import base64
import string
from typing import Any

from . import vocab
from .clock import DAY_MS, iso_date, iso_ms
from .generate import Ctx, build, compile_object, person
from .ids import random_uuid
from .rand import Rng, mix64
from .realism import Shape, _prop, _touched, fix_schedule, sequences_gen

_ALNUM = string.ascii_letters + string.digits


def token(rng: Rng, length: int, alphabet: str = _ALNUM) -> str:
    return "".join(alphabet[int(rng.random() * len(alphabet))] for _ in range(length))


def _year_name(template: str, rng: Rng, ctx: Ctx) -> str:
    return template.format(
        q=rng.between(1, 4),
        y=iso_date(ctx.created_ms)[:4],
        n=rng.between(1, 40),
        city=rng.choice(vocab.CITIES),
        industry=rng.choice(vocab.INDUSTRIES),
    )


def _unique_label(labels: tuple[str, ...], refs: Any, index: int, salt: int) -> str:
    """A label unique in the workspace: a permutation of ``labels``, numbered once they run out."""
    count = len(labels)
    label = labels[(index + mix64(refs.seed, salt)) % count]
    return label if index < count else f"{label} {index // count + 1}"


# ------------------------------------------------------------------------------------- lead lists
def lead_list_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        item["name"] = _year_name(rng.choice(vocab.LIST_NAMES), rng, ctx)

    return shape


# ------------------------------------------------------------------------------------ lead labels
SENTIMENTS = ("positive", "neutral", "negative")


def label_sentiment(refs: Any, index: int) -> str:
    return SENTIMENTS[mix64(refs.seed, 0x1ABE1, index) % 3]


def label_interest_status(refs: Any, index: int) -> int:
    """The number the API generates for a custom label: positive labels > 0, negative ones < 0."""
    sentiment = label_sentiment(refs, index)
    number = 100 + index % 9000
    return {"positive": number, "neutral": 10_000 + number, "negative": -number}[sentiment]


def lead_label_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        item["label"] = _unique_label(vocab.LEAD_LABELS, refs, ctx.index, 0x1AB)
        item["interest_status_label"] = label_sentiment(refs, ctx.index)
        item["interest_status"] = label_interest_status(refs, ctx.index)
        item["created_by"] = rng.choice(refs.users)[0]

    return shape


# ------------------------------------------------------------------------------------ custom tags
def custom_tag_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        item["label"] = _unique_label(vocab.TAG_LABELS, ctx.refs, ctx.index, 0x7A6)
        item["timestamp_updated"] = _touched(rng, ctx)

    return shape


def tag_mapping_shape(schema: dict[str, Any]) -> Shape:
    """A tag on an account (``resource_type`` 1, ``resource_id`` the account's email: accounts have no
    other id) or on a campaign (2). Each (tag, resource) pair at most once."""

    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        tags, accounts, campaigns = (
            refs.stores[name].base for name in ("custom_tags", "accounts", "campaigns")
        )
        resources = accounts + campaigns
        pairs = tags * resources
        if not pairs:
            item.update(
                tag_id=random_uuid(rng.bits(48)), resource_type=2, resource_id=random_uuid(rng.bits(48))
            )
            return
        multiplier = next(m for m in (7919, 104729, 1299709, 15485863) if pairs % m)
        pair = (ctx.index * multiplier + mix64(refs.seed, 0x7A9)) % pairs
        tag, resource = divmod(pair, resources)
        item["tag_id"] = refs.stores["custom_tags"].key(tag)
        if resource < accounts:
            item["resource_type"] = 1
            item["resource_id"] = refs.stores["accounts"].key(resource)
        else:
            item["resource_type"] = 2
            item["resource_id"] = refs.stores["campaigns"].key(resource - accounts)

    return shape


# ------------------------------------------------------------------------------------- block list
def block_list_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        domain = rng.choice(vocab.COMPANIES)[1]
        item["is_domain"] = rng.random() < 0.35
        item["bl_value"] = domain if item["is_domain"] else person(rng, domain).email

    return shape


# ----------------------------------------------------------------------------------- subsequences
BUILT_IN_CRM_STATUSES = (1, 2, 3, 4, 0, -1, -2, -3, -4)


def subsequence_shape(schema: dict[str, Any]) -> Shape:
    sequences = sequences_gen(schema, max_steps=3)
    conditions = compile_object(_prop(schema, "conditions"), skip=frozenset({"crm_status"}), nested=True)

    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        parent = refs.pick_key("campaigns", rng, ctx.created_ms)
        item["parent_campaign"] = parent or random_uuid(rng.bits(48))
        item["name"] = rng.choice(vocab.SUBSEQUENCE_NAMES)
        item["sequences"] = sequences(rng, ctx)
        wanted = build(conditions, rng, ctx)
        wanted["crm_status"] = rng.sample(BUILT_IN_CRM_STATUSES, rng.between(1, 2))
        item["conditions"] = wanted
        if isinstance(item.get("subsequence_schedule"), dict):
            fix_schedule(item["subsequence_schedule"], rng)
        if item.get("daily_limit_mode") != "custom" and "daily_limit" in item:
            item["daily_limit"] = None

    return shape


# --------------------------------------------------------------------------------------- webhooks
def webhook_url(refs: Any, index: int) -> str:
    """The target URL webhook ``index`` was created with (its events carry it)."""
    rng = Rng(refs.seed, 0x3EB, index)
    kind = rng.below(4)
    if kind == 0:
        hook = rng.between(1_000_000, 9_999_999)
        return f"https://hooks.zapier.com/hooks/catch/{hook}/{token(rng, 6).lower()}/"
    if kind == 1:
        return f"https://hook.eu1.make.com/{token(rng, 32, string.ascii_lowercase + string.digits)}"
    if kind == 2:
        return f"https://webhook.site/{random_uuid(mix64(refs.seed, 0x3EB, index))}"
    return f"https://{rng.choice(vocab.COMPANIES)[1]}/api/instantly/webhook"


def webhook_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        item["target_hook_url"] = webhook_url(refs, ctx.index)
        if "name" in item:
            item["name"] = rng.choice(vocab.WEBHOOK_NAMES)
        item["campaign"] = refs.pick_key("campaigns", rng, ctx.created_ms) if rng.random() < 0.4 else None
        labels = refs.stores["lead_labels"].base
        if item.get("event_type") is None and labels:
            item["custom_interest_value"] = label_interest_status(refs, rng.below(labels))
        else:
            item["event_type"] = item.get("event_type") or "all_events"
            item["custom_interest_value"] = None
        roll = rng.random()
        if roll < 0.5:
            item["headers"] = None
        elif roll < 0.8:  # credentials for the receiving end: a secret the sync should not spread
            item["headers"] = {"Authorization": "Bearer " + token(rng, 40)}
        else:
            item["headers"] = {"X-Api-Key": token(rng, 32), "X-Source": "instantly"}
        failing = rng.random() < 0.15
        item["status"] = -1 if failing else 1
        item["timestamp_error"] = iso_ms(ctx.moment_after(rng)) if failing else None

    return shape


_EVENT_TYPES = (
    "email_sent",
    "email_sent",
    "email_opened",
    "email_opened",
    "reply_received",
    "email_link_clicked",
    "lead_interested",
    "email_bounced",
)


def webhook_event_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        hook = refs.pick_index("webhooks", rng, ctx.created_ms)
        item["webhook_url"] = (
            webhook_url(refs, hook) if hook is not None else "https://webhook.site/unique-url"
        )
        item["timestamp_created_date"] = iso_date(ctx.created_ms)
        lead = refs.pick_lead(rng, ctx.created_ms)
        lead_email = lead[1].email if lead else None
        item["lead_email"] = lead_email
        event = rng.choice(_EVENT_TYPES)
        item["payload"] = {
            "event_type": event,
            "timestamp": iso_ms(ctx.created_ms - rng.below(5_000)),
            "workspace": refs.org_id,
            "campaign_id": refs.pick_key("campaigns", rng, ctx.created_ms),
            "lead_email": lead_email,
            "email_account": refs.pick_key("accounts", rng),
        }
        success = rng.random() < 0.85
        item["success"] = success
        item["retry_count"] = 0 if success and rng.random() < 0.8 else rng.between(1, 3)
        item["will_retry"] = not success and item["retry_count"] < 3
        item["status_code"] = (
            rng.choice((200, 200, 201, 204)) if success else rng.choice((None, 404, 410, 500, 502))
        )
        item["error_message"] = (
            None if success else ("Connection timeout" if item["status_code"] is None else "Non-2xx response")
        )
        retried = item["retry_count"] > 0
        item["retry_group_id"] = random_uuid(rng.bits(48)) if retried else None
        item["retry_successful"] = success if retried else None
        next_retry = ctx.created_ms + 60_000 * 2 ** item["retry_count"]
        item["timestamp_next_retry"] = iso_ms(next_retry) if item["will_retry"] else None
        item["response_time_ms"] = None if item["status_code"] is None else rng.between(40, 2_500)

    return shape


# ---------------------------------------------------------------------------------------- members
def member_shape(schema: dict[str, Any]) -> Shape:
    """Members 0..3 are the workspace's users (0 is the owner); later ones are invited people."""

    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        index = ctx.index
        if 0 <= index < len(refs.users):
            user_id = refs.users[index][0]
            first, last, email = refs.user_people[index]
            accepted = True
        else:
            who = person(rng, rng.choice(vocab.COMPANIES)[1])
            user_id, first, last, email = random_uuid(rng.bits(48)), who.first_name, who.last_name, who.email
            accepted = rng.random() < 0.6
        item["user_id"] = user_id
        item["email"] = email
        item["name"] = {"first": first, "last": last}
        item["accepted"] = accepted
        item["role"] = "owner" if index == 0 else rng.choice(("admin", "editor", "editor", "view", "client"))
        if "user_email" in item:
            item["user_email"] = email if accepted else None
        item["issuer_id"] = None if index == 0 else refs.users[0][0]

    return shape


def webhook_event_search(value: Any) -> Any:
    """``search`` on webhook events: the exact webhook URL or the exact lead email."""
    text = str(value)
    return lambda event: event.get("webhook_url") == text or event.get("lead_email") == text


def member_search(value: Any) -> Any:
    """``search`` on members: part of the first or last name or of the email."""
    needle = str(value).lower()

    def test(member: dict[str, Any]) -> bool:
        name = member.get("name") or {}
        text = f"{name.get('first', '')} {name.get('last', '')} {member.get('email', '')}".lower()
        return needle in text

    return test


def group_member_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        item["admin_workspace_id"] = refs.org_id
        item["admin_workspace_name"] = refs.name
        item["sub_workspace_id"] = random_uuid(mix64(refs.seed, 0x5B3, ctx.index))
        item["sub_workspace_name"] = f"{rng.choice(vocab.COMPANIES)[0]} — {rng.choice(vocab.WORKSPACE_NAMES)}"
        item["timestamp_updated"] = _touched(rng, ctx)

    return shape


# --------------------------------------------------------------------------------------- API keys
_KEY_SCOPES = (
    ("all:all",),
    ("all:read",),
    ("campaigns:read", "leads:read", "accounts:read"),
    ("leads:all", "lead_lists:all"),
    ("emails:read", "campaigns:read"),
)


def api_key_secret(rng: Rng) -> str:
    """What an API v2 key looks like: base64 of ``<uuid>:<random>``."""
    raw = f"{random_uuid(rng.bits(48))}:{token(rng, 12)}"
    return base64.b64encode(raw.encode("ascii")).decode("ascii")


def api_key_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        item["name"] = rng.choice(vocab.API_KEY_NAMES)
        item["scopes"] = list(rng.choice(_KEY_SCOPES))
        item["key"] = api_key_secret(rng)
        item["timestamp_updated"] = _touched(rng, ctx)

    return shape


# -------------------------------------------------------------------------------- background jobs
_JOB_ENTITIES = {
    "move-leads": ("list", "campaign"),
    "import-leads": ("list", "campaign"),
    "export-leads": ("list", "campaign"),
    "update-warmup-accounts": ("workspace",),
    "rename-variable": ("workspace", "campaign"),
    "broadcast-ai-generate": ("broadcast",),
    "broadcast-website-scrape": ("broadcast",),
    "import-subscribers-from-crm": ("subscriber-group-sync",),
    "resync-subscriber-crm-tags": ("subscriber-group",),
}


def background_job_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        kind = item.get("type") or "import-leads"
        entity_type = rng.choice(_JOB_ENTITIES.get(kind, ("workspace",)))
        item["entity_type"] = entity_type
        if entity_type == "list":
            item["entity_id"] = rng.choice(refs.list_ids)
        elif entity_type == "campaign":
            item["entity_id"] = refs.pick_key("campaigns", rng, ctx.created_ms) or random_uuid(rng.bits(48))
        elif entity_type == "workspace":
            item["entity_id"] = refs.org_id
        else:
            item["entity_id"] = random_uuid(rng.bits(48))
        status = item.get("status")
        if status == "success":
            item["progress"] = 100
        elif status == "pending":
            item["progress"] = 0
        elif status in ("in-progress", "draining", "paused"):
            item["progress"] = rng.between(1, 99)
        if kind == "move-leads":
            moved = [person(rng).email for _ in range(rng.between(1, 4))]
            item["data"] = {"moved_lead_emails": moved, "moved_leads": len(moved)}
        elif kind in ("import-leads", "export-leads"):
            item["data"] = {"total": rng.between(10, 5000), "list_id": rng.choice(refs.list_ids)}
        else:
            item["data"] = {}
        item["user_id"] = rng.choice(refs.users)[0] if rng.random() < 0.9 else None
        finished = status in ("success", "failed", "cancelled")
        item["updated_at"] = iso_ms(
            ctx.created_ms + (rng.between(2_000, 3_600_000) if finished else rng.below(60_000))
        )

    return shape


# ---------------------------------------------------------------------------- inbox placement tests
def placement_test_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        item["name"] = _year_name(rng.choice(vocab.PLACEMENT_TEST_NAMES), rng, ctx)
        item["email_subject"] = rng.choice(vocab.SUBJECTS)
        item["email_body"] = " ".join(rng.sample(vocab.SENTENCES, 3)).format(company="{{companyName}}")
        accounts = [refs.pick_key("accounts", rng) for _ in range(rng.between(1, 3))]
        item["emails"] = [email for email in dict.fromkeys(accounts) if email]
        labels = rng.sample(vocab.RECIPIENT_LABELS, rng.between(1, 4))
        item["recipients_labels"] = [
            dict(zip(("region", "sub_region", "type", "esp"), label, strict=True)) for label in labels
        ]
        item["recipients"] = [f"seed-{token(rng, 8).lower()}@{_seed_domain(label)}" for label in labels]
        if item.get("campaign_id"):
            item["campaign_id"] = refs.pick_key("campaigns", rng, ctx.created_ms)
        if item.get("tags"):
            item["tags"] = list(dict.fromkeys(rng.choice(refs.tag_ids) for _ in range(rng.between(1, 2))))
        automated = item.get("type") == 2
        if automated:
            item["schedule"] = {
                "days": {str(day): day not in (0, 6) and rng.random() < 0.5 for day in range(7)},
                "timing": {"from": f"{rng.between(6, 18):02d}:00"},
                "timezone": rng.choice(
                    ("Europe/Belgrade", "America/Chicago", "Asia/Kolkata", "America/Detroit")
                ),
            }
        else:
            item.pop("schedule", None)
        active = automated and item.get("status") == 1
        item["timestamp_next_run"] = (
            iso_ms(ctx.until_ms + rng.between(1, 7) * DAY_MS // 7) if active else None
        )
        if item.get("sending_method") == 2:
            item["test_code"] = "ptid_" + token(rng, 21, _ALNUM + "_-")
        else:
            item.pop("test_code", None)
        if item.get("not_sending_status") is not None and item.get("status") != 1:
            item["not_sending_status"] = None

    return shape


def _seed_domain(label: tuple[str, ...]) -> str:
    esp = label[3]
    return {
        "Google": "gmail.com",
        "Microsoft": "outlook.com",
        "Web.de": "web.de",
        "Libero.it": "libero.it",
    }.get(esp, "gmail.com")


_RECEIVED_ONLY = (
    "is_spam",
    "has_category",
    "sender_esp",
    "spf_pass",
    "dkim_pass",
    "dmarc_pass",
    "smtp_ip_blacklist_report",
    "authentication_failure_results",
)


def _test_of(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
    test = ctx.refs.pick_key("inbox_placement_tests", rng, ctx.created_ms)
    item["test_id"] = test or random_uuid(rng.bits(48))
    day = ctx.created_ms - ctx.created_ms % DAY_MS
    item["timestamp_created_date"] = iso_ms(day)


def placement_analytics_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        _test_of(item, rng, ctx)
        item["record_type"] = 2 if rng.random() < 0.6 else 1
        item["sender_email"] = ctx.refs.pick_key("accounts", rng)
        item["recipient_email"] = (
            f"seed-{token(rng, 8).lower()}@{rng.choice(('gmail.com', 'outlook.com', 'web.de'))}"
        )
        if item["record_type"] == 1:
            for name in _RECEIVED_ONLY:
                item.pop(name, None)
        elif item.get("smtp_ip_blacklist_report") is not None:
            item["smtp_ip_blacklist_report"] = {"listed": rng.random() < 0.1, "checked": rng.between(30, 90)}

    return shape


def placement_report_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        refs = ctx.refs
        _test_of(item, rng, ctx)
        domain = rng.choice(refs.sending_domains)
        ip = f"{rng.between(11, 223)}.{rng.below(256)}.{rng.below(256)}.{rng.between(1, 254)}"
        item["domain"] = domain
        item["domain_ip"] = ip
        rules = rng.sample(vocab.SPAM_RULES, rng.between(2, 5))
        score = round(sum(float(rule[2]) for rule in rules) + rng.random() * 3, 1)
        item["spam_assassin_score"] = score
        item["spam_assassin_report"] = {
            "is_spam": score >= 5,
            "report": [dict(zip(("description", "name", "score"), rule, strict=True)) for rule in rules],
            "spam_score": int(score),
        }
        details = [
            {"blacklist": name, "is_listed": rng.random() < 0.05, "test_type": rng.choice(("ip", "domain"))}
            for name in vocab.BLACKLISTS
        ]
        listed = sum(detail["is_listed"] for detail in details)
        item["blacklist_report"] = {
            "address": domain,
            "blacklisted_count": listed,
            "details": details,
            "ip": ip,
            "is_blacklisted": listed > 0,
            "is_domain": True,
        }
        for name in ("domain_blacklist_count", "domain_ip_blacklist_count"):
            if item.get(name) is not None:
                item[name] = listed if name == "domain_blacklist_count" else rng.below(2)

    return shape


def without(field: str) -> Any:
    """A view that leaves ``field`` out (``skip_spam_assassin_report`` and friends)."""

    def view(item: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in item.items() if name != field}

    return view


# ------------------------------------------------------------------------------------ AI agents, DFY orders
def agent_activity_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        item["ai_sdr_id"] = ctx.refs.pick_key("ai_agents", rng, ctx.created_ms)

    return shape


def dfy_order_domain(refs: Any, index: int) -> str:
    """An ordered domain, one per order (the orders have no id)."""
    word = vocab.WORDS[mix64(refs.seed, 0xDF70, index) % len(vocab.WORDS)]
    return f"{word}{index + 1}-outreach.com"


def dfy_order_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        item["workspace_id"] = ctx.refs.org_id  # the spec's example is no id

    return shape


def dfy_account_shape(schema: dict[str, Any]) -> Shape:
    def shape(item: dict[str, Any], rng: Rng, ctx: Ctx) -> None:
        item["password"] = token(rng, 16)

    return shape
