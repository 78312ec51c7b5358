"""Change history of leads, campaigns and accounts: `<table>_history` tables written by SQL after each load.

A history table holds versions of each key: its tracked values, `valid_from`, `valid_to` (NULL for the
current version) and the `_dlt_load_id` of the load that brought the version, plus a few context columns
recorded with a version but never compared (`HistoryTable.context`). Where workspaces share the dataset
(the synced table has `workspace_id`), versions carry `workspace_id` and `workspace_name` and keys are
(workspace_id, key).

Which rows are looked at: those whose `_dlt_load_id` is a completed load (`_dlt_loads`, status 0) not yet
processed for that history table, as the bookkeeping table `_instantly_history_loads` (table_name, load_id)
records. Not "the highest load id": another process sharing the dataset, or a crashed run's pending package,
can complete a load with an older id later. A row yields a version only when a tracked value differs from
the key's open version (`IS DISTINCT FROM`, so NULL to a value counts), or when the key has no open version.
`leads` is written with only its changed rows, so the work is proportional to the changed rows: the synced
table is read only through its `_dlt_load_id`, the history only through the keys of those rows.

`valid_from` is the row's `timestamp_updated` (the API's time of the change) when that is later than the
open version's `valid_from` (or when there is none); otherwise, when the API did not move it (a warmup score
recomputed) or the table has no such column, the time the load completed, but never before the open
version's `valid_from`. The open version's `valid_to` becomes the new version's `valid_from`.

Everything for one history table (closing, inserting, bookkeeping) is one transaction: a crash leaves the
loads unprocessed and the next run does the same work again. Processing a load twice writes nothing, as its
rows equal the versions they made. History errors are logged and do not fail the sync: its loads stay
unprocessed and the next run takes them up.

The same SQL runs on DuckDB and Postgres. `history = false` under `[sources.instantly]` turns it off.
"""

import logging
from dataclasses import dataclass
from typing import Any

from sources.instantly import configured_history

from . import dataset_columns

logger = logging.getLogger(__name__)

LOADS_TABLE = "_instantly_history_loads"
"""Bookkeeping: which completed loads each history table has processed (one row per table and load)."""
BATCH_TABLE = "_instantly_history_batch"
"""The temporary table of one history table's new versions, inside its transaction."""
WORKSPACE_COLUMNS = (("workspace_id", "varchar"), ("workspace_name", "varchar"))
TIMESTAMP = "timestamp with time zone"


@dataclass(frozen=True)
class Column:
    """A history column: `name` and SQL type `kind`, read from the synced table as `expression` over its row
    `t` (default: its column of the same name, cast to `kind`)."""

    name: str
    kind: str
    expression: str | None = None

    def read(self, present: set[str]) -> str:
        if self.expression is not None:
            return f"cast({self.expression} as {self.kind})"
        if self.name in present:
            return f"cast(t.{self.name} as {self.kind})"
        return f"cast(null as {self.kind})"  # not synced yet (a field the API has not sent)


@dataclass(frozen=True)
class HistoryTable:
    source: str
    key: tuple[Column, ...]
    tracked: tuple[Column, ...]
    """A new version is written when one of these changes."""
    context: tuple[Column, ...] = ()
    """Recorded with each version as the synced row had it; a change of these alone writes no version."""
    requires: tuple[str, ...] = ()
    """Columns of the synced table the expressions read (a table without them is not processed)."""

    @property
    def name(self) -> str:
        return f"{self.source}_history"


HISTORY_TABLES = (
    HistoryTable(
        source="leads",
        key=(Column("id", "varchar"),),
        tracked=(
            # moves between campaigns (transitions are counted per campaign)
            Column("campaign", "varchar"),
            # Active / Paused / Completed / Bounced / Unsubscribed / Skipped: the lead's lifecycle
            Column("status", "bigint"),
            # Interested, Meeting Booked, Won, Not Interested, ...: "when did this lead become Interested"
            Column("lt_interest_status", "bigint"),
            # each reply: rare and meaningful ("time from first contact to reply"); opens and clicks are not
            # tracked: they fire many times per lead (and by mail scanners) and would multiply versions
            Column("email_reply_count", "double precision"),
            # first contact: a version when the lead is first contacted, not at each later step sent
            Column("contacted", "boolean", "t.timestamp_last_contact is not null"),
        ),
        context=(
            Column("timestamp_last_contact", TIMESTAMP),
            Column("timestamp_last_reply", TIMESTAMP),
            Column("timestamp_last_interest_change", TIMESTAMP),
        ),
        requires=("timestamp_last_contact",),
    ),
    HistoryTable(
        source="campaigns",
        key=(Column("id", "varchar"),),
        tracked=(
            # Draft / Active / Paused / Completed / Accounts Unhealthy / Bounce Protect ...
            Column("status", "bigint"),
            # sending capacity: what explains a change in daily volume. `not_sending_status` is not tracked:
            # it flips with the sending schedule and daily limits every day.
            Column("daily_limit", "double precision"),
            Column("daily_max_leads", "bigint"),
        ),
    ),
    HistoryTable(
        source="accounts",
        key=(Column("email", "varchar"),),
        tracked=(
            # Active / Paused / Connection Error / Soft Bounce Error / Sending Error
            Column("status", "bigint"),
            # Paused / Active / Banned / Spam Folder Unknown / Permanent Suspension
            Column("warmup_status", "bigint"),
            # the warmup (health) score the trend model charts
            Column("stat_warmup_score", "double precision"),
            Column("daily_limit", "double precision"),
        ),
    ),
)
HISTORY_TABLES_BY_SOURCE = {table.source: table for table in HISTORY_TABLES}


def record_history(pipeline: Any) -> dict[str, int]:
    """Write the versions the pipeline's completed, unprocessed loads brought, for every history table whose
    synced table exists; history table -> versions written. Nothing when `history` is off."""
    if not configured_history():
        return {}
    written: dict[str, int] = {}
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            return written
        columns = dataset_columns(client)
        if "_dlt_loads" not in columns:
            return written
        for table in HISTORY_TABLES:
            present = columns.get(table.source)
            if not present or not {"_dlt_load_id", *(c.name for c in table.key), *table.requires} <= present:
                continue  # its resource was never synced here
            try:
                written[table.name] = record_table(client, table, present, columns.get(table.name))
            except Exception as exc:  # the sync stands; the loads stay unprocessed for the next run
                reason = " ".join(str(exc).split())
                logger.warning("history of %s not written (the next run retries): %s", table.source, reason)
    return written


def record_table(client: Any, table: HistoryTable, present: set[str], existing: set[str] | None) -> int:
    """One history table's versions for its unprocessed loads, in one transaction; how many were written."""
    shared = "workspace_id" in present
    with client.begin_transaction():
        _ensure_tables(client, table, shared, existing)
        loads = _unprocessed_loads(client, table.name)
        if not loads:
            return 0
        written = _write_versions(client, table, present, shared, loads)
        bookkeeping = client.make_qualified_table_name(LOADS_TABLE)
        for load_id in loads:
            client.execute_sql(
                f"insert into {bookkeeping} (table_name, load_id, processed_at) "
                "values (%s, %s, current_timestamp)",
                table.name,
                load_id,
            )
    return written


def _history_columns(table: HistoryTable, shared: bool) -> list[tuple[str, str]]:
    """The history table's columns and types, in order."""
    return [
        *(WORKSPACE_COLUMNS if shared else ()),
        *((c.name, c.kind) for c in (*table.key, *table.tracked, *table.context)),
        ("valid_from", TIMESTAMP),
        ("valid_to", TIMESTAMP),
        ("_dlt_load_id", "varchar"),
    ]


def _ensure_tables(client: Any, table: HistoryTable, shared: bool, existing: set[str] | None) -> None:
    """Create the bookkeeping and history tables if missing, and add columns a history table lacks (a
    dataset that became shared, a column tracked since): its older versions hold NULL there."""
    bookkeeping = client.make_qualified_table_name(LOADS_TABLE)
    client.execute_sql(
        f"create table if not exists {bookkeeping} "
        f"(table_name varchar not null, load_id varchar not null, processed_at {TIMESTAMP})"
    )
    history = client.make_qualified_table_name(table.name)
    columns = _history_columns(table, shared)
    if existing is None:
        listed = ", ".join(f"{name} {kind}" for name, kind in columns)
        client.execute_sql(f"create table if not exists {history} ({listed})")
        if client.capabilities.sqlglot_dialect == "postgres":  # open versions by key; DuckDB hash-joins
            keys = ", ".join(name for name, _ in columns[: len(table.key) + (2 if shared else 0)])
            client.execute_sql(
                f"create index if not exists {table.name}_open on {history} ({keys}) where valid_to is null"
            )
        return
    for name, kind in columns:
        if name not in existing:
            client.execute_sql(f"alter table {history} add column {name} {kind}")


def _unprocessed_loads(client: Any, history_name: str) -> list[str]:
    loads = client.make_qualified_table_name("_dlt_loads")
    bookkeeping = client.make_qualified_table_name(LOADS_TABLE)
    rows = client.execute_sql(
        f"select distinct l.load_id from {loads} l where l.status = 0 and not exists "
        f"(select 1 from {bookkeeping} b where b.table_name = %s and b.load_id = l.load_id) order by 1",
        history_name,
    )
    return [row[0] for row in rows or []]


def _write_versions(
    client: Any, table: HistoryTable, present: set[str], shared: bool, loads: list[str]
) -> int:
    source = client.make_qualified_table_name(table.source)
    history = client.make_qualified_table_name(table.name)
    dlt_loads = client.make_qualified_table_name("_dlt_loads")
    keys = [*(("workspace_id",) if shared else ()), *(c.name for c in table.key)]
    values = [
        *(f"t.{name}" for name, _ in (WORKSPACE_COLUMNS if shared else ())),
        *(f"{c.read(present)} as {c.name}" for c in (*table.key, *table.tracked, *table.context)),
    ]
    updated = f"cast(t.timestamp_updated as {TIMESTAMP})" if "timestamp_updated" in present else "null"
    placeholders = ", ".join(["%s"] * len(loads))
    on_key = " and ".join(f"h.{key} = r.{key}" for key in keys)
    changed = " or ".join(f"r.{c.name} is distinct from h.{c.name}" for c in table.tracked)
    batch_columns = [name for name, _ in _history_columns(table, shared) if name not in ("valid_to",)]
    client.execute_sql(f"drop table if exists {BATCH_TABLE}")
    client.execute_sql(
        f"""create temporary table {BATCH_TABLE} as
        with loaded as (
            select load_id, min(inserted_at) as loaded_at from {dlt_loads}
            where status = 0 and load_id in ({placeholders}) group by load_id
        ),
        candidates as (
            select {", ".join(values)}, {updated} as updated_at, l.loaded_at, t._dlt_load_id
            from {source} t join loaded l on l.load_id = t._dlt_load_id
            where t._dlt_load_id in ({placeholders})
        )
        select r.*,
            case
                when h.valid_from is null then coalesce(r.updated_at, r.loaded_at)
                when r.updated_at > h.valid_from then r.updated_at
                else greatest(r.loaded_at, h.valid_from)
            end as valid_from
        from candidates r
        left join {history} h on {on_key} and h.valid_to is null
        where h.valid_from is null or {changed}""",
        *loads,
        *loads,
    )
    (count,) = client.execute_sql(f"select count(*) from {BATCH_TABLE}")[0]
    if count:
        batch_keys = " and ".join(f"h.{key} = c.{key}" for key in keys)
        client.execute_sql(
            f"update {history} as h set valid_to = c.valid_from from {BATCH_TABLE} as c "
            f"where {batch_keys} and h.valid_to is null"
        )
        listed = ", ".join(batch_columns)
        client.execute_sql(f"insert into {history} ({listed}) select {listed} from {BATCH_TABLE}")
    client.execute_sql(f"drop table {BATCH_TABLE}")
    return int(count)
