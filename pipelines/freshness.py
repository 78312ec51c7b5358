"""`instantly-sync check --max-age 2h`: is every resource's last successful sync recent enough?

It reads the `sync_runs` table every run writes, so it answers for the data in the warehouse, from any
machine, whatever ran the syncs (cron, CI, Airflow). A resource counts from its first run that was not
skipped (a key without the scope, or a plan without the add-on, never syncs it); its age is the time since
its last `ok` run.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt

from destinations import Target, opening
from sources.instantly.errors import ConfigError, InstantlyError

from .runs import RUNS_TABLE, runs_pipeline_name

_AGE_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class StaleData(InstantlyError):
    """Some resource's last successful sync is older than allowed, or none is recorded at all."""

    exit_code = 6


def parse_age(text: str) -> timedelta:
    """'90s', '30m', '2h', '1d', '1h30m' (s, m, h, d, w)."""
    compact = text.strip().lower().replace(" ", "")
    parts = _AGE_PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise ConfigError(f"--max-age {text!r} is not a duration like 90s, 30m, 2h, 1d or 1h30m")
    return timedelta(seconds=sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


@dataclass(frozen=True)
class Freshness:
    workspace: str
    resource: str
    last_ok: datetime | None  # None: it never synced successfully

    def age(self, now: datetime) -> timedelta | None:
        return now - self.last_ok if self.last_ok else None


def freshness(target: Target, workspaces: list[str], pipelines_dir: str | None) -> list[Freshness]:
    """The last successful sync of each resource of `workspaces` recorded in the target's `sync_runs`."""
    if target.destination == "duckdb" and not Path(target.duckdb_path).is_file():
        raise StaleData(f"no sync is recorded: there is no warehouse at {target.location}")
    pipeline = dlt.pipeline(
        pipeline_name=runs_pipeline_name(target),
        destination=target.factory(),
        dataset_name=target.dataset,
        pipelines_dir=pipelines_dir,
    )
    with opening(target), pipeline.sql_client() as client:
        recorded = client.execute_sql(
            "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
            target.dataset,
            RUNS_TABLE,
        )[0][0]
        if not recorded:
            raise StaleData(
                f"no sync is recorded in {target.destination}:{target.dataset} (no {RUNS_TABLE} table)"
            )
        placeholders = ", ".join(["%s"] * len(workspaces))
        rows = client.execute_sql(
            f"select workspace_name, resource, max(case when status = 'ok' then finished_at end) "
            f"from {client.make_qualified_table_name(RUNS_TABLE)} "
            f"where status not in ('skipped', 'not_in_plan') and workspace_name in ({placeholders}) "
            "group by workspace_name, resource order by workspace_name, resource",
            *workspaces,
        )
    return [Freshness(workspace, resource, _utc(last_ok)) for workspace, resource, last_ok in rows]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stale(entries: list[Freshness], max_age: timedelta, now: datetime) -> list[Freshness]:
    return [e for e in entries if e.last_ok is None or now - e.last_ok > max_age]


def describe(entries: list[Freshness], max_age: timedelta, now: datetime) -> str:
    too_old = set(stale(entries, max_age, now))
    lines = []
    for entry in entries:
        age = entry.age(now)
        when = f"last ok {entry.last_ok:%Y-%m-%d %H:%M:%S}Z, {_human(age)} ago" if age else "never synced ok"
        verdict = "STALE" if entry in too_old else "fresh"
        lines.append(f"  {verdict:<5} {entry.workspace}/{entry.resource}: {when}")
    header = f"{len(too_old)} of {len(entries)} resource(s) older than {_human(max_age)}"
    return "\n".join([header, *lines])


def _human(age: timedelta) -> str:
    """'1d2h', '45m', '30s': the two largest units."""
    seconds = int(age.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts[:2])
