"""Resumable walks over list endpoints, and what each incremental strategy keeps from them.

State per resource (in dlt's resource state, committed with the data it describes):
- `walk`: the walk in progress, or absent. `cursor` is the next `starting_after` (stored before its page
  is yielded, so a checkpoint resumes exactly there), `params` the filter the walk started with, `started_at`
  the server's clock at its first page, `recent` the ids this walk saw near its newest item.
- `mark`: where the next walk starts. TIME_WINDOW: the newest item time loaded. CHANGED_ROWS: the start of
  the last complete walk, less the overlap: items updated since then are the ones to write.
- `recent`: for TIME_WINDOW, ids (with their time) of loaded items within the overlap below `mark`, so the
  re-read overlap writes nothing twice.

Why not `dlt.sources.incremental`: its `lag` re-writes every row of the overlap on each run, and it cannot
express "the start of the last complete walk" or a resume cursor that differs from the item cursor.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from .endpoints import Endpoint, Strategy, TimeFormat


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Walk:
    """One pass over an endpoint, driven by and written back to a resource state dict."""

    def __init__(self, endpoint: Endpoint, state: dict[str, Any], start_date: datetime, overlap: timedelta):
        self.endpoint = endpoint
        self.state = state
        self.overlap = overlap
        self._mark = parse_time(state.get("mark"))
        if "walk" not in state:
            state["walk"] = {"cursor": None, "params": self._window_params(start_date), "recent": {}}
        self._walk = state["walk"]
        self._newest = parse_time(self._walk.get("newest"))
        self._floor = self._mark - overlap if self._mark else None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._walk["params"])

    @property
    def started_at(self) -> str | None:
        """The server's clock at the walk's first page (absent until it is fetched)."""
        return self._walk.get("started_at")

    @property
    def cursor(self) -> str | None:
        return self._walk["cursor"]

    def _window_params(self, start_date: datetime) -> dict[str, Any]:
        endpoint = self.endpoint
        if endpoint.strategy is not Strategy.TIME_WINDOW or not endpoint.window_param:
            return {}
        since = self._mark - self.overlap if self._mark else start_date
        if endpoint.window_format is TimeFormat.DATE:
            return {endpoint.window_param: since.astimezone(UTC).date().isoformat()}
        return {endpoint.window_param: format_time(since)}

    def advance(self, next_cursor: str | None, server_time: datetime | None) -> None:
        """Record where the walk goes next. Call before yielding the page's rows."""
        self._walk["cursor"] = next_cursor
        if "started_at" not in self._walk:
            self._walk["started_at"] = format_time(server_time or datetime.now(UTC))

    def keep(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of a page that the warehouse does not hold yet (per the strategy)."""
        strategy = self.endpoint.strategy
        if strategy is Strategy.MERGE_ALL:
            return items
        if strategy is Strategy.CHANGED_ROWS:
            return [item for item in items if self._changed(item)]
        kept = [item for item in items if self._new_in_window(item)]
        if self._newest:
            self._prune(self._walk["recent"], self._newest)
        return kept

    def _changed(self, item: dict[str, Any]) -> bool:
        if self._mark is None:
            return True
        updated = parse_time(item.get(self.endpoint.cursor_field))
        return updated is None or updated >= self._mark

    def _new_in_window(self, item: dict[str, Any]) -> bool:
        created = parse_time(item.get(self.endpoint.cursor_field))
        key = item.get(self.endpoint.primary_key)
        if created is None:
            return True  # cannot place it in time: keep it, the merge on its key makes it harmless
        if self._floor and created < self._floor:
            return False  # older than the overlap: loaded by an earlier walk
        if key in self.state.get("recent", {}) or key in self._walk["recent"]:
            return False
        if self._newest is None or created > self._newest:
            self._newest = created
            self._walk["newest"] = format_time(created)
        if created >= self._newest - self.overlap:
            self._walk["recent"][key] = format_time(created)
        return True

    def _prune(self, recent: dict[str, str], newest: datetime) -> None:
        """Keep only ids within the overlap below `newest`: the bound on what the next walk re-reads."""
        floor = newest - self.overlap
        for key in [k for k, t in recent.items() if parse_time(t) < floor]:
            del recent[key]

    def abandon_if_unstarted(self) -> None:
        """Forget a walk that never got its first page (the resource was skipped)."""
        if self._walk["cursor"] is None and "started_at" not in self._walk:
            del self.state["walk"]

    def restart(self) -> None:
        """Walk again from the first page of the same window; what this walk already saw stays known."""
        self._walk["cursor"] = None

    def end_early(self) -> None:
        """The walk stopped before the API said it was done (its cursor stopped advancing): forget it
        without moving the mark, so the next walk covers what this one could not reach."""
        del self.state["walk"]

    @property
    def complete(self) -> bool:
        return self._walk["cursor"] is None

    def finish(self) -> None:
        """The walk reached the end: move the mark and forget the walk."""
        strategy = self.endpoint.strategy
        if (
            strategy is Strategy.TIME_WINDOW
            and self._newest
            and (self._mark is None or self._newest > self._mark)
        ):
            recent = {**self.state.get("recent", {}), **self._walk["recent"]}
            self._prune(recent, self._newest)
            self.state["recent"] = recent
            self.state["mark"] = format_time(self._newest)
        elif strategy is Strategy.CHANGED_ROWS:
            started = parse_time(self._walk.get("started_at")) or datetime.now(UTC)
            self.state["mark"] = format_time(started - self.overlap)
        del self.state["walk"]
