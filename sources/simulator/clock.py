"""Time helpers: the API's timestamp format (``2025-09-13T12:09:51.583Z``), parsing filters, HTTP dates."""

from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

DAY_MS = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_DAYS: dict[int, str] = {}
_MINUTES: dict[int, str] = {}
_SECONDS = [f"{s // 1000:02d}.{s % 1000:03d}Z" for s in range(60_000)]


def _day(day_number: int) -> str:
    text = _DAYS.get(day_number)
    if text is None:
        text = _DAYS[day_number] = (date(1970, 1, 1) + timedelta(days=day_number)).isoformat()
    return text


def _minute(minute: int) -> str:
    if len(_MINUTES) > 400_000:
        _MINUTES.clear()
    day, rest = divmod(minute, 1440)
    text = _MINUTES[minute] = f"{_day(day)}T{rest // 60:02d}:{rest % 60:02d}:"
    return text


def iso_ms(unix_ms: int) -> str:
    """Unix milliseconds as ISO 8601 in UTC with milliseconds and ``Z`` (cached pieces: it is hot)."""
    minute, rest = divmod(unix_ms, 60_000)
    return (_MINUTES.get(minute) or _minute(minute)) + _SECONDS[rest]


def iso_date(unix_ms: int) -> str:
    return _day(unix_ms // DAY_MS)


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def from_ms(unix_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=unix_ms)


def parse_instant(text: str, *, end_of_day: bool = False) -> int | None:
    """An ISO date-time (``Z`` or offset; naive means UTC) or a ``YYYY-MM-DD`` date as unix ms.

    A bare date means the whole day: its first millisecond, or with ``end_of_day`` its last one.
    Returns None when the text is neither.
    """
    text = text.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        start = to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))
        return start + DAY_MS - 1 if end_of_day else start
    try:
        return to_ms(datetime.fromisoformat(text))
    except ValueError:
        return None


def http_date(moment: datetime) -> str:
    """RFC 1123 date for the ``Date`` header."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)
