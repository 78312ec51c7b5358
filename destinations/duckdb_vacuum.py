"""When a DuckDB file's row groups are compacted: in batches, not at every checkpoint.

A load appends its rows to a table as row groups of their own, and a checkpoint that vacuums merges a
table's small row groups into full ones, rewriting every row in them. After 20,000-lead loads into a shared
file, that took 0.3-0.6 s per load and 1.2-5.9 s every sixth or so, growing with the file (the load itself
took about 0.5 s); and a checkpoint runs in the dataset's turn, so every other workspace's load waited. The
checkpoints of a turn (`duckdb_open`) therefore do not vacuum, unless a table the turn changed holds
`ROW_GROUP_SLACK` more row groups than its rows need: then that checkpoint merges them all at once. Each
row is rewritten about once per that many loads instead of at every one, and no scan meets more than that
many extra row groups.
"""

import logging
import math
from typing import Any

import duckdb

# DuckDB's rows per row group (its default, which the files dlt creates keep).
ROW_GROUP_ROWS = 122_880
# How many more row groups than its rows need a table may hold before a checkpoint compacts it.
ROW_GROUP_SLACK = 32

Sizes = dict[tuple[str, str], int]
logger = logging.getLogger(__name__)


def defer(connection: Any) -> Sizes:
    """Stop the database's checkpoints from vacuuming; what each table held (to tell later which changed)."""
    connection.execute("SET GLOBAL max_vacuum_tasks = 0")
    return table_sizes(connection)


def vacuum_if_fragmented(connection: Any, before: Sizes) -> bool:
    """Let the next checkpoint vacuum again when a table changed since `before` is fragmented; whether so.
    Only changed tables are looked at: a checkpoint vacuums no other. The check never fails the turn: what
    the turn wrote has committed, and a later turn compacts instead."""
    try:
        for (schema, table), rows in table_sizes(connection).items():
            if before.get((schema, table)) == rows:
                continue
            if row_groups(connection, schema, table) - math.ceil(rows / ROW_GROUP_ROWS) >= ROW_GROUP_SLACK:
                connection.execute("RESET GLOBAL max_vacuum_tasks")
                return True
    except duckdb.Error as exc:
        logger.warning("instantly-sync: row groups not compacted this time: %s", " ".join(str(exc).split()))
    return False


def table_sizes(connection: Any) -> Sizes:
    rows = connection.execute(
        "select schema_name, table_name, estimated_size from duckdb_tables() "
        "where database_name = current_database()"
    ).fetchall()
    return {(schema, table): size for schema, table, size in rows}


def row_groups(connection: Any, schema: str, table: str) -> int:
    qualified = ".".join('"' + name.replace('"', '""') + '"' for name in (schema, table))
    return connection.execute(
        "select count(distinct row_group_id) from pragma_storage_info(?)", [qualified]
    ).fetchone()[0]
