"""Date windows for daily analytics: backfill each parent once, then re-fetch a trailing window.

Recent days keep changing (late opens and replies), so every run re-reads the last `trailing_days` before
the day it last fetched through; a parent seen for the first time is backfilled from its creation day (or
the configured start, whichever is later). Windows are split at the endpoint's maximum range.
"""

from collections.abc import Iterator
from datetime import date, timedelta


def first_day(last_fetched: date | None, created: date | None, start: date, trailing_days: int) -> date:
    if last_fetched is not None:
        return max(start, last_fetched - timedelta(days=trailing_days))
    return max(start, created or start)


def windows(first: date, last: date, max_days: int | None) -> Iterator[tuple[date, date]]:
    """Inclusive [from, to] ranges covering first..last, each at most `max_days` long."""
    if max_days is None:
        if first <= last:
            yield first, last
        return
    current = first
    while current <= last:
        end = min(last, current + timedelta(days=max_days - 1))
        yield current, end
        current = end + timedelta(days=1)


def chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for offset in range(0, len(values), size):
        yield values[offset : offset + size]
