"""Analytics figures: deterministic per (seed, campaign or account, date), additive, and recent days
that keep changing.

The finest grain is a *cell*: the events of one campaign on one day for one step and variant (a vector
of counts, ``_C``). Every campaign answer is a sum of cells, so the figures are consistent by
construction: a campaign's daily rows sum to its totals for the same range, its step rows too, the
overview is the sum over campaigns, and the all-campaign daily rows are the sums of per-campaign ones
(``DAILY_TO_TOTALS`` / ``STEPS_TO_TOTALS`` name the matching fields). Sending accounts and subsequences
have their own cells. Cells exist from the day the campaign (account, subsequence) was created up to
the world's today; ``touch(days)`` adds late opens, replies and clicks to the last ``days`` days.

Date parameters accept ``YYYY-MM-DD`` or an ISO timestamp (its UTC day counts); ranges are inclusive
of both days; without ``start_date`` a range covers the 30 days ending at ``end_date`` (default today).
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .clock import DAY_MS, iso_date, parse_instant
from .errors import ApiError
from .rand import Rng

if TYPE_CHECKING:
    from .world import World

DEFAULT_DAYS = 30
"""Without ``start_date`` analytics cover the 30 days ending at ``end_date`` (NOTES.md)."""
ACCOUNT_MAX_DAYS = 31
ACCOUNT_MAX_EMAILS = 200
TOO_LARGE = (
    "Analytics request is too large for this workspace. Add an emails filter or request a smaller date range."
)

# campaign cell vector positions
(
    SENT,
    CONTACTED,
    NEW_LEADS,
    OPENED,
    U_OPENED,
    U_OPENED_STEP,
    REPLIES,
    U_REPLIES,
    U_REPLIES_STEP,
    AUTO,
    U_AUTO,
    U_AUTO_STEP,
    CLICKS,
    U_CLICKS,
    U_CLICKS_STEP,
    OPPS,
    U_OPPS,
    VALUE,
    BOOKED,
    WON,
    BOUNCED,
    UNSUBSCRIBED,
    COMPLETED,
    INTERESTED,
    MEETING_BOOKED,
    MEETING_COMPLETED,
    CLOSED,
    OPPS_X,
    INTERESTED_X,
    MEETING_BOOKED_X,
    MEETING_COMPLETED_X,
    CLOSED_X,
) = range(32)
_WIDTH = 32

DAILY_FIELDS = (
    ("sent", SENT),
    ("contacted", CONTACTED),
    ("new_leads_contacted", NEW_LEADS),
    ("opened", OPENED),
    ("unique_opened", U_OPENED),
    ("replies", REPLIES),
    ("unique_replies", U_REPLIES),
    ("replies_automatic", AUTO),
    ("unique_replies_automatic", U_AUTO),
    ("clicks", CLICKS),
    ("unique_clicks", U_CLICKS),
    ("opportunities", OPPS),
    ("unique_opportunities", U_OPPS),
)
STEP_FIELDS = (
    ("sent", SENT),
    ("opened", OPENED),
    ("unique_opened", U_OPENED_STEP),
    ("replies", REPLIES),
    ("unique_replies", U_REPLIES_STEP),
    ("replies_automatic", AUTO),
    ("unique_replies_automatic", U_AUTO_STEP),
    ("clicks", CLICKS),
    ("unique_clicks", U_CLICKS_STEP),
)
STEP_OPPORTUNITY_FIELDS = (
    ("opportunities", OPPS),
    ("unique_opportunities", U_OPPS),
    ("meetings_booked", BOOKED),
    ("won", WON),
)
TOTAL_FIELDS = (
    ("contacted_count", CONTACTED),
    ("emails_sent_count", SENT),
    ("new_leads_contacted_count", NEW_LEADS),
    ("open_count", OPENED),
    ("open_count_unique", U_OPENED),
    ("open_count_unique_by_step", U_OPENED_STEP),
    ("reply_count", REPLIES),
    ("reply_count_unique", U_REPLIES),
    ("reply_count_unique_by_step", U_REPLIES_STEP),
    ("reply_count_automatic", AUTO),
    ("reply_count_automatic_unique", U_AUTO),
    ("reply_count_automatic_unique_by_step", U_AUTO_STEP),
    ("link_click_count", CLICKS),
    ("link_click_count_unique", U_CLICKS),
    ("link_click_count_unique_by_step", U_CLICKS_STEP),
    ("bounced_count", BOUNCED),
    ("unsubscribed_count", UNSUBSCRIBED),
    ("completed_count", COMPLETED),
    ("total_opportunities", OPPS),
    ("total_opportunity_value", VALUE),
)
OVERVIEW_CRM_FIELDS = (
    ("total_interested", INTERESTED, INTERESTED_X),
    ("total_meeting_booked", MEETING_BOOKED, MEETING_BOOKED_X),
    ("total_meeting_completed", MEETING_COMPLETED, MEETING_COMPLETED_X),
    ("total_closed", CLOSED, CLOSED_X),
)

_BY_INDEX = {index: name for name, index in TOTAL_FIELDS}
DAILY_TO_TOTALS = {name: _BY_INDEX[index] for name, index in DAILY_FIELDS if index in _BY_INDEX}
"""Daily row field -> the ``/campaigns/analytics`` total it sums to (same campaign, same range)."""
STEPS_TO_TOTALS = {
    name: _BY_INDEX[index] for name, index in STEP_FIELDS + STEP_OPPORTUNITY_FIELDS if index in _BY_INDEX
}
"""Step row field -> the total it sums to (``unique_*`` step rows sum to the ``*_by_step`` totals)."""

ACCOUNT_FIELDS = (
    "sent",
    "bounced",
    "contacted",
    "new_leads_contacted",
    "opened",
    "unique_opened",
    "replies",
    "unique_replies",
    "replies_automatic",
    "unique_replies_automatic",
    "clicks",
    "unique_clicks",
)
_A = {name: position for position, name in enumerate(ACCOUNT_FIELDS)}
SUBSEQUENCE_FIELDS = ("emails_sent", "unique_opens", "unique_replies")

NULL_STEP = (-1, -1)
"""The cell of events whose step and variant could not be determined (served as ``null``)."""
_PRICES = (250, 500, 1000, 2500, 5000)
_FRACTIONAL_PRICES = (249.5, 499.75, 999.5, 2499.25, 4999.5)
"""With ``mixed_numbers``, some campaigns' deals are priced in quarters (which floats hold exactly, so sums of
cells stay exact): their opportunity values arrive fractional, the others' whole."""

Cells = dict[tuple[int, int], list[int]]


def _portion(rng: Rng, n: int, p: float) -> int:
    """About ``n * p`` (0.5x to 1.5x), never more than ``n``."""
    if n <= 0:
        return 0
    return min(n, int(n * p * (0.5 + rng.random()) + rng.random()))


def _weekday_factor(day: int) -> float:
    return 0.15 if (day + 3) % 7 >= 5 else 1.0  # day 0 (1970-01-01) was a Thursday


def _split(rng: Rng, total: int, weights: list[float]) -> list[int]:
    """``total`` split in parts roughly proportional to ``weights`` (exact sum)."""
    parts = []
    remaining, weight_left = total, sum(weights)
    for weight in weights[:-1]:
        share = min(remaining, int(remaining * weight / weight_left * (0.8 + 0.4 * rng.random())))
        parts.append(share)
        remaining -= share
        weight_left -= weight
    parts.append(remaining)
    return parts


def _day_of(text: Any, name: str) -> int:
    unix_ms = parse_instant(str(text))
    if unix_ms is None:
        raise ApiError(400, f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 timestamp")
    return unix_ms // DAY_MS


def split_values(value: Any) -> list[str]:
    """A list parameter given repeated (``emails=a&emails=b``) and/or comma-separated, deduplicated."""
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    parts = (part.strip() for item in values for part in str(item).split(","))
    return list(dict.fromkeys(part for part in parts if part))


class Analytics:
    """The analytics of one world (``World.analytics``); every method takes validated request params
    and returns the answer exactly as served."""

    def __init__(self, world: "World") -> None:
        self.world = world
        self.touches: list[tuple[int, int, int]] = []
        """(touch number, first day, last day) of each ``touch``: late events added to those days."""
        self._cells: dict[tuple[Any, ...], Any] = {}
        self._lock = world._lock  # one lock for the world and its figures: no lock-order inversions

    def _remember(self, key: tuple[Any, ...], value: Any) -> Any:
        if len(self._cells) > 500_000:
            self._cells.clear()
        self._cells[key] = value
        return value

    # ------------------------------------------------------------------------------------ time
    def today(self) -> int:
        return self.world.now_ms() // DAY_MS

    def range(self, params: dict[str, Any]) -> tuple[int, int]:
        """Inclusive (first day, last day) of a request's ``start_date`` / ``end_date``."""
        end = params.get("end_date")
        last = _day_of(end, "end_date") if end not in (None, "") else self.today()
        start = params.get("start_date")
        first = _day_of(start, "start_date") if start not in (None, "") else last - DEFAULT_DAYS + 1
        if first > last:
            raise ApiError(400, "Start Date must be earlier than End Date")
        return first, last

    def touch(self, days: int) -> None:
        """Late opens, replies and clicks on each of the last ``days`` days (today included)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        with self._lock:
            today = self.today()
            self.touches.append((len(self.touches) + 1, today - days + 1, today))

    # --------------------------------------------------------------------------------- campaigns
    def _campaigns(
        self, params: dict[str, Any], by: tuple[str, ...] = ("campaign_id",), by_status: bool = True
    ) -> list[tuple[int, dict[str, Any]]]:
        """(index, item) of the live campaigns an analytics request selects, oldest first: those named
        by the parameters ``by`` (``ids`` may repeat or hold a comma-separated list), all when none is
        given, narrowed to ``campaign_status`` where the operation takes it."""
        store = self.world.store("campaigns")
        wanted = set(split_values(params.get("ids"))) if "ids" in by else set()
        for name in by:
            if name != "ids" and params.get(name):
                wanted.add(str(params[name]))
        status = params.get("campaign_status") if by_status else None
        chosen = []
        if wanted:
            indexes = sorted(i for i in (store.index_of(key) for key in wanted) if i is not None)
        else:
            indexes = list(range(store.count()))
        for index in indexes:
            if index in store.removed:
                continue
            item = store.item(index)
            if status is not None and item.get("status") != status:
                continue
            chosen.append((index, item))
        return chosen

    @staticmethod
    def _structure(item: dict[str, Any]) -> tuple[int, ...]:
        """Variants per step of a campaign's sequence."""
        try:
            steps = item["sequences"][0]["steps"]
            return tuple(max(1, len(step.get("variants") or [])) for step in steps) or (1,)
        except (KeyError, IndexError, TypeError, AttributeError):
            return (1,)

    def _campaign_cells(self, index: int, item: dict[str, Any], first: int, last: int) -> Iterable[Cells]:
        store = self.world.store("campaigns")
        created = store.ms(index) // DAY_MS
        structure = self._structure(item)
        for day in range(max(first, created), min(last, self.today()) + 1):
            yield self._campaign_day(index, created, structure, day)

    def _campaign_day(self, index: int, created: int, structure: tuple[int, ...], day: int) -> Cells:
        key = ("c", index, day, structure)
        cells = self._cells.get(key)
        if cells is None:
            cells = self._remember(key, self._generate_campaign_day(index, created, structure, day))
        return self._touched("c", index, day, cells)

    def _generate_campaign_day(self, index: int, created: int, structure: tuple[int, ...], day: int) -> Cells:
        seed = self.world.seed
        profile = Rng(seed, 0xA7A0, index)
        volume = profile.between(8, 80)
        p_open, p_reply, p_click = (
            0.25 + 0.35 * profile.random(),
            0.01 + 0.07 * profile.random(),
            0.08 * profile.random(),
        )
        has_null_step = profile.random() < 0.4
        # a stream of its own, so that every other figure is the same with mixing on or off
        priced_in_quarters = self.world.mixed_numbers and Rng(profile.p, 0x9A1C).random() < 0.5
        prices = _FRACTIONAL_PRICES if priced_in_quarters else _PRICES
        rng = Rng(seed, 0xA7A1, index, day)
        ramp = min(1.0, (day - created + 1) / 5)
        total = int(volume * ramp * _weekday_factor(day) * (0.6 + 0.8 * rng.random()))
        per_step = _split(rng, total, [0.55**step for step in range(len(structure))])
        cells: Cells = {}
        for step, (variants, sent) in enumerate(zip(structure, per_step, strict=True)):
            for variant, n in enumerate(_split(rng, sent, [1.0] * variants)):
                if n:
                    cells[(step, variant)] = self._cell(
                        rng, n, step, step == len(structure) - 1, p_open, p_reply, p_click, prices
                    )
        if has_null_step and rng.random() < 0.3:
            late = [0] * _WIDTH
            late[OPENED] = late[U_OPENED] = late[U_OPENED_STEP] = rng.between(1, 3)
            late[REPLIES] = late[U_REPLIES] = late[U_REPLIES_STEP] = rng.below(2)
            cells[NULL_STEP] = late
        return cells

    @staticmethod
    def _cell(
        rng: Rng,
        n: int,
        step: int,
        last_step: bool,
        p_open: float,
        p_reply: float,
        p_click: float,
        prices: tuple[float, ...],
    ) -> list[int]:
        v = [0] * _WIDTH
        v[SENT] = n
        v[CONTACTED] = n - _portion(rng, n, 0.03)
        v[NEW_LEADS] = v[CONTACTED] if step == 0 else 0
        overlap = 0.0 if step == 0 else 0.15
        for unique_step, unique, total, p, extra in (
            (U_OPENED_STEP, U_OPENED, OPENED, p_open, 0.6),
            (U_REPLIES_STEP, U_REPLIES, REPLIES, p_reply, 0.15),
            (U_AUTO_STEP, U_AUTO, AUTO, 0.008, 0.3),
            (U_CLICKS_STEP, U_CLICKS, CLICKS, p_click, 0.5),
        ):
            v[unique_step] = _portion(rng, n, p)
            v[unique] = v[unique_step] - _portion(rng, v[unique_step], overlap)
            v[total] = v[unique_step] + _portion(rng, v[unique_step], extra)
        v[OPPS] = _portion(rng, v[U_REPLIES_STEP], 0.35)
        v[U_OPPS] = v[OPPS] - _portion(rng, v[OPPS], 0.1)
        v[VALUE] = v[OPPS] * rng.choice(prices)
        v[BOOKED] = _portion(rng, v[OPPS], 0.4)
        v[WON] = _portion(rng, v[BOOKED], 0.3)
        v[BOUNCED] = _portion(rng, n, 0.02)
        v[UNSUBSCRIBED] = _portion(rng, n, 0.01)
        v[COMPLETED] = _portion(rng, n, 0.4) if last_step else 0
        v[INTERESTED] = v[U_OPPS]
        v[MEETING_BOOKED] = v[BOOKED]
        v[MEETING_COMPLETED] = _portion(rng, v[BOOKED], 0.6)
        v[CLOSED] = v[WON]
        for expanded, base in (
            (OPPS_X, OPPS),
            (INTERESTED_X, INTERESTED),
            (MEETING_BOOKED_X, MEETING_BOOKED),
            (MEETING_COMPLETED_X, MEETING_COMPLETED),
            (CLOSED_X, CLOSED),
        ):
            v[expanded] = _portion(rng, v[base], 0.3)
        return v

    def _touched(self, kind: str, index: int, day: int, cells: Any) -> Any:
        """``cells`` with the late events of every ``touch`` that covers ``day`` (a copy when touched)."""
        touches = [number for number, first, last in self.touches if first <= day <= last]
        if not touches:
            return cells
        if kind == "a":
            return self._touch_account(index, day, cells, touches)
        if kind == "s":
            return self._touch_subsequence(index, day, cells, touches)
        changed: Cells = {}
        for (step, variant), v in cells.items():
            v = list(v)
            if v[SENT]:
                for number in touches:
                    rng = Rng(self.world.seed, 0x70C4, number, index, day, step, variant)
                    n = v[SENT]
                    for unique_step, unique, total, p in (
                        (U_OPENED_STEP, U_OPENED, OPENED, 0.08),
                        (U_REPLIES_STEP, U_REPLIES, REPLIES, 0.02),
                        (U_CLICKS_STEP, U_CLICKS, CLICKS, 0.03),
                    ):
                        more = min(n - v[unique_step], _portion(rng, n, p))
                        v[unique_step] += more
                        v[unique] += more
                        v[total] += more
                    v[OPENED] += 1 + rng.below(3)  # a late open of an email already opened at least
            changed[(step, variant)] = v
        return changed

    def _touch_account(self, index: int, day: int, cells: list[int], touches: list[int]) -> list[int]:
        v = list(cells)
        if v[_A["sent"]]:
            for number in touches:
                rng = Rng(self.world.seed, 0x70C5, number, index, day)
                n = v[_A["sent"]]
                for unique, total, p in (
                    ("unique_opened", "opened", 0.08),
                    ("unique_replies", "replies", 0.02),
                ):
                    more = min(n - v[_A[unique]], _portion(rng, n, p))
                    v[_A[unique]] += more
                    v[_A[total]] += more
                v[_A["opened"]] += 1 + rng.below(3)
        return v

    def _touch_subsequence(self, index: int, day: int, cells: list[int], touches: list[int]) -> list[int]:
        v = list(cells)
        if v[0]:
            for number in touches:
                rng = Rng(self.world.seed, 0x70C6, number, index, day)
                v[1] = min(v[0], v[1] + 1 + rng.below(2))
                v[2] = min(v[1], v[2] + rng.below(2))
        return v

    # ----------------------------------------------------------------------------------- answers
    def campaign_totals(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """``GET /campaigns/analytics``: one row per selected campaign (also those without events)."""
        with self._lock:
            first, last = self.range(params)
            leads = None if params.get("exclude_total_leads_count") else self.world.leads_per_campaign()
            rows = []
            for index, item in self._campaigns(params, by=("id", "ids"), by_status=False):
                total = [0] * _WIDTH
                for cells in self._campaign_cells(index, item, first, last):
                    for v in cells.values():
                        _add(total, v)
                row: dict[str, Any] = {
                    "campaign_name": item.get("name"),
                    "campaign_id": item["id"],
                    "campaign_status": item.get("status"),
                    "campaign_is_evergreen": bool(item.get("is_evergreen")),
                }
                if leads is not None:
                    row["leads_count"] = leads.get(item["id"], 0)
                row.update((name, total[position]) for name, position in TOTAL_FIELDS)
                rows.append(row)
            return rows

    def campaign_overview(self, params: dict[str, Any]) -> dict[str, Any]:
        """``GET /campaigns/analytics/overview``: one object, the totals over the selected campaigns."""
        with self._lock:
            first, last = self.range(params)
            total = [0] * _WIDTH
            for index, item in self._campaigns(params, by=("id", "ids")):
                for cells in self._campaign_cells(index, item, first, last):
                    for v in cells.values():
                        _add(total, v)
            expand = bool(params.get("expand_crm_events"))
            answer = {name: total[position] for name, position in TOTAL_FIELDS}
            if expand:
                answer["total_opportunities"] += total[OPPS_X]
            for name, base, extra in OVERVIEW_CRM_FIELDS:
                answer[name] = total[base] + (total[extra] if expand else 0)
            return answer

    def campaign_daily(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """``GET /campaigns/analytics/daily``: one row per date with events, summed over the selected
        campaigns (one with ``campaign_id``); rows carry no campaign id."""
        with self._lock:
            first, last = self.range(params)
            days: dict[int, list[int]] = {}
            store = self.world.store("campaigns")
            for index, item in self._campaigns(params):
                created = store.ms(index) // DAY_MS
                structure = self._structure(item)
                for day in range(max(first, created), min(last, self.today()) + 1):
                    total = days.setdefault(day, [0] * _WIDTH)
                    for v in self._campaign_day(index, created, structure, day).values():
                        _add(total, v)
            return [
                {"date": iso_date(day * DAY_MS), **{name: v[position] for name, position in DAILY_FIELDS}}
                for day, v in sorted(days.items())
                if any(v)
            ]

    def campaign_steps(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """``GET /campaigns/analytics/steps``: one row per step and variant with events in the range
        (``null`` step and variant for events that could not be attributed), no campaign id."""
        with self._lock:
            first, last = self.range(params)
            steps: dict[tuple[int, int], list[int]] = {}
            for index, item in self._campaigns(params):
                for cells in self._campaign_cells(index, item, first, last):
                    for key, v in cells.items():
                        _add(steps.setdefault(key, [0] * _WIDTH), v)
            fields = STEP_FIELDS + (
                STEP_OPPORTUNITY_FIELDS if params.get("include_opportunities_count") else ()
            )
            rows = []
            for (step, variant), v in sorted(steps.items(), key=lambda kv: (kv[0][0] < 0, kv[0])):
                if not any(v):
                    continue
                known = step >= 0
                row: dict[str, Any] = {
                    "step": str(step) if known else None,
                    "variant": str(variant) if known else None,
                }
                row.update((name, v[position]) for name, position in fields)
                rows.append(row)
            return rows

    # ------------------------------------------------------------------------------------ accounts
    def account_daily(self, params: dict[str, Any], *, limits: bool = True) -> list[dict[str, Any]]:
        """``GET /accounts/analytics/daily``: rows per date and sending account with events.

        ``emails`` is required (413 without it, as for a workspace too large to answer), at most 200
        distinct accounts (400, the spec's ``maxItems``) and at most 31 days (413, the spec's answer
        for a range too large). ``limits=False`` (read helpers) skips the size checks.
        """
        emails = split_values(params.get("emails"))
        if limits and not emails:
            raise ApiError(413, TOO_LARGE)
        if limits and len(emails) > ACCOUNT_MAX_EMAILS:
            raise ApiError(400, f"querystring/emails must NOT have more than {ACCOUNT_MAX_EMAILS} items")
        with self._lock:
            first, last = self.range(params)
            if limits and last - first > ACCOUNT_MAX_DAYS:
                raise ApiError(413, TOO_LARGE)
            store = self.world.store("accounts")
            rows = []
            accounts = []
            for email in emails:
                index = store.index_of(email)
                if index is not None and index not in store.removed:
                    accounts.append((email, index, store.ms(index) // DAY_MS))
            for day in range(first, min(last, self.today()) + 1):
                for email, index, created in sorted(accounts):
                    if day < created:
                        continue
                    v = self._account_day(index, created, day)
                    if any(v):
                        rows.append(
                            {
                                "date": iso_date(day * DAY_MS),
                                "email_account": email,
                                **dict(zip(ACCOUNT_FIELDS, v, strict=True)),
                            }
                        )
            return rows

    def _account_day(self, index: int, created: int, day: int) -> list[int]:
        key = ("a", index, day)
        v = self._cells.get(key)
        if v is None:
            v = self._remember(key, self._generate_account_day(index, created, day))
        return self._touched("a", index, day, v)

    def _generate_account_day(self, index: int, created: int, day: int) -> list[int]:
        seed = self.world.seed
        profile = Rng(seed, 0xACC0, index)
        volume = profile.between(5, 50)
        p_open, p_reply = 0.25 + 0.35 * profile.random(), 0.01 + 0.06 * profile.random()
        rng = Rng(seed, 0xACC1, index, day)
        ramp = min(1.0, (day - created + 1) / 7)
        n = int(volume * ramp * _weekday_factor(day) * (0.6 + 0.8 * rng.random()))
        v = [0] * len(ACCOUNT_FIELDS)
        if not n:
            return v
        v[_A["sent"]] = n
        v[_A["bounced"]] = _portion(rng, n, 0.02)
        v[_A["contacted"]] = n - _portion(rng, n, 0.03)
        v[_A["new_leads_contacted"]] = _portion(rng, v[_A["contacted"]], 0.5)
        for unique, total, p, extra in (
            ("unique_opened", "opened", p_open, 0.6),
            ("unique_replies", "replies", p_reply, 0.15),
            ("unique_replies_automatic", "replies_automatic", 0.02, 0.3),
            ("unique_clicks", "clicks", 0.05, 0.5),
        ):
            v[_A[unique]] = _portion(rng, n, p)
            v[_A[total]] = v[_A[unique]] + _portion(rng, v[_A[unique]], extra)
        return v

    # -------------------------------------------------------------------------------- subsequences
    def subsequence_totals(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """``GET /subsequences/analytics?campaign_id=``: totals per subsequence of that campaign, from
        each subsequence's creation until today."""
        campaign = params.get("campaign_id")
        with self._lock:
            store = self.world.store("subsequences")
            today = self.today()
            rows = []
            for index in store.live():
                item = store.item(index)
                if item.get("parent_campaign") != campaign:
                    continue
                created = store.ms(index) // DAY_MS
                total = [0, 0, 0]
                for day in range(created, today + 1):
                    _add(total, self._subsequence_day(index, day))
                rows.append(
                    {"subsequence_id": item["id"], **dict(zip(SUBSEQUENCE_FIELDS, total, strict=True))}
                )
            return rows

    def _subsequence_day(self, index: int, day: int) -> list[int]:
        key = ("s", index, day)
        v = self._cells.get(key)
        if v is None:
            seed = self.world.seed
            volume = Rng(seed, 0x5B50, index).between(0, 12)
            rng = Rng(seed, 0x5B51, index, day)
            sent = int(volume * _weekday_factor(day) * rng.random())
            opens = _portion(rng, sent, 0.4)
            v = self._remember(key, [sent, opens, _portion(rng, opens, 0.15)])
        return self._touched("s", index, day, v)


def _add(total: list[int], v: list[int]) -> None:
    for position, value in enumerate(v):
        if value:
            total[position] += value
