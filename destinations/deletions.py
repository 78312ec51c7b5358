"""Soft (or hard) deletes: the rows a complete walk did not meet, marked after each load (DuckDB, Postgres).

Every table of a resource that walks its whole collection (`sources.instantly.deletions`), and each of its
child tables, carries `_deleted_at`: NULL while the row is live, else when the walk that noticed it gone
began. After each load, for every walk that reached its end whole, the table's keys (of this workspace,
where workspaces share the dataset) are read back in chunks and checked against the hashes the walk kept;
only the keys it did not meet, and the marked keys it met again, are written back, through a temporary
table. So the cost is a read of one key column plus writes in proportion to what changed: a 1M-lead table
with 1% deleted reads 1M keys and writes 10,000.

A marked row whose key comes back is live again: a merge rewrites it whole (its `_deleted_at` NULL), and a
lead the walk met again without writing it (unchanged) is unmarked here. `hard` deletes the rows, child rows
first. Either way the open version of a deleted key in `<table>_history` is closed at the walk's start.
Each table's changes are one transaction: a crash leaves the marks of the last walk or none.
"""

import logging
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dlt.common.schema import Schema
from dlt.common.schema.utils import get_nested_tables
from dlt.pipeline.pipeline import Pipeline

from sources.instantly.deletions import CompleteWalk, Deletes
from sources.instantly.settings import DELETED_AT_COLUMN, DELETION_READ_ROWS

logger = logging.getLogger(__name__)

WORKSPACE_COLUMN = "workspace_id"
HISTORY_SUFFIX = "_history"
HISTORY_VALID_TO = "valid_to"
_GONE_TABLE = "_instantly_keys_gone"
_INSERT_ROWS = 500  # keys per insert into the temporary table


@dataclass(frozen=True)
class Swept:
    table: str
    marked: int  # rows this walk found gone (marked, or removed with `hard`)
    revived: int  # marked rows whose key the walk met again


def ensure_deleted_columns(pipeline: Pipeline, tables: Iterable[str]) -> None:
    """`_deleted_at` on each of `tables` that exists, and on its child tables: what models and queries
    filter on, there from the first load whatever `deletes` says."""
    schema = pipeline.default_schema
    with pipeline.sql_client() as client:
        columns = _dataset_columns(client)
        for table in tables:
            if table in columns:
                for name in _chain(schema, table):
                    if name in columns and DELETED_AT_COLUMN not in columns[name]:
                        client.execute_sql(
                            f"alter table {client.make_qualified_table_name(name)} add column "
                            f"{client.escape_column_name(DELETED_AT_COLUMN)} timestamp with time zone"
                        )


def sweep(pipeline: Pipeline, walks: list[CompleteWalk]) -> list[Swept]:
    """Mark or remove, for each complete walk, the rows of its table it did not meet; unmark those it met."""
    swept = []
    schema = pipeline.default_schema
    with pipeline.sql_client() as client:
        columns = _dataset_columns(client)
        for walk in walks:
            if walk.table not in columns:
                continue  # nothing loaded yet
            keys = tuple(schema.naming.normalize_identifier(name) for name in walk.key_fields)
            shared = walk.workspace_id is not None and WORKSPACE_COLUMN in columns[walk.table]
            where = (WORKSPACE_COLUMN, walk.workspace_id) if shared else None
            gone, back = _unseen(client, walk, keys, where)
            if gone or back:
                with client.begin_transaction():
                    _apply(client, schema, columns, walk, keys, where, gone, back)
            swept.append(Swept(walk.table, len(gone), len(back)))
    return swept


def _unseen(
    client: Any, walk: CompleteWalk, keys: tuple[str, ...], where: tuple[str, str] | None
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Keys of the table the walk did not meet (live ones; with `hard`, every one), and marked keys it met.

    Two reads of the key column: the first hashes every key (8 bytes a row) and finds, in one lookup among
    the walk's hashes, which ones to change; the second collects the keys with those hashes."""
    table = client.make_qualified_table_name(walk.table)
    key_list = ", ".join(client.escape_column_name(key) for key in keys)
    deleted = client.escape_column_name(DELETED_AT_COLUMN)
    condition, args = "", []
    if where:
        condition, args = f" where {client.escape_column_name(where[0])} = %s", [where[1]]
    hashes, marked = array("q"), bytearray()
    with client.execute_query(
        f"select {key_list}, {deleted} is not null from {table}{condition}", *args
    ) as cursor:
        while rows := cursor.fetchmany(DELETION_READ_ROWS):
            hashes.extend(walk.seen.hash_key(row[:-1]) for row in rows)
            marked.extend(bool(row[-1]) for row in rows)
    unseen = walk.seen.unseen(hashes)
    hard = walk.deletes is Deletes.HARD
    gone = {
        h for h, missing, mark in zip(hashes, unseen, marked, strict=True) if missing and (hard or not mark)
    }
    back = {h for h, missing, mark in zip(hashes, unseen, marked, strict=True) if mark and not missing}
    if not gone and not back:
        return [], []
    found: dict[bool, list[tuple[Any, ...]]] = {True: [], False: []}
    with client.execute_query(f"select {key_list} from {table}{condition}", *args) as cursor:
        while rows := cursor.fetchmany(DELETION_READ_ROWS):
            for row in rows:
                key_hash = walk.seen.hash_key(tuple(row))
                if key_hash in gone or key_hash in back:
                    found[key_hash in gone].append(tuple(row))
    return found[True], found[False]


def _apply(
    client: Any,
    schema: Schema,
    columns: dict[str, set[str]],
    walk: CompleteWalk,
    keys: tuple[str, ...],
    where: tuple[str, str] | None,
    gone: list[tuple[Any, ...]],
    back: list[tuple[Any, ...]],
) -> None:
    root = client.make_qualified_table_name(walk.table)
    key_list = ", ".join(client.escape_column_name(key) for key in keys)
    deleted = client.escape_column_name(DELETED_AT_COLUMN)
    in_workspace, workspace_args = "", []
    if where:
        in_workspace = f" and {client.escape_column_name(where[0])} = %s"
        workspace_args = [where[1]]
    children = [name for name in _chain(schema, walk.table)[1:] if name in columns]
    for rows, value in ((gone, walk.started_at), (back, None)):
        if not rows:
            continue
        with _keys_table(client, root, key_list, rows):
            of_rows = f"({key_list}) in (select {key_list} from {_GONE_TABLE}){in_workspace}"
            root_ids = f"select _dlt_id from {root} where {of_rows}"
            for child in children:
                qualified = client.make_qualified_table_name(child)
                if walk.deletes is Deletes.HARD and value is not None:
                    client.execute_sql(
                        f"delete from {qualified} where _dlt_root_id in ({root_ids})", *workspace_args
                    )
                else:
                    client.execute_sql(
                        f"update {qualified} set {deleted} = %s where _dlt_root_id in ({root_ids})",
                        value,
                        *workspace_args,
                    )
            if walk.deletes is Deletes.HARD and value is not None:
                client.execute_sql(f"delete from {root} where {of_rows}", *workspace_args)
            else:
                client.execute_sql(
                    f"update {root} set {deleted} = %s where {of_rows}", value, *workspace_args
                )
            if value is not None:
                _close_history(client, columns, walk, key_list, in_workspace, workspace_args, value)


def _close_history(
    client: Any,
    columns: dict[str, set[str]],
    walk: CompleteWalk,
    key_list: str,
    in_workspace: str,
    workspace_args: list[Any],
    at: datetime,
) -> None:
    history = walk.table + HISTORY_SUFFIX
    if HISTORY_VALID_TO not in columns.get(history, ()):
        return
    valid_to = client.escape_column_name(HISTORY_VALID_TO)
    client.execute_sql(
        f"update {client.make_qualified_table_name(history)} set {valid_to} = %s where {valid_to} is null "
        f"and ({key_list}) in (select {key_list} from {_GONE_TABLE}){in_workspace}",
        at,
        *workspace_args,
    )


@contextmanager
def _keys_table(client: Any, root: str, key_list: str, rows: list[tuple[Any, ...]]) -> Iterator[None]:
    """A temporary table of `rows` (the key columns, typed as in `root`) for as long as the block runs."""
    client.execute_sql(f"create temporary table {_GONE_TABLE} as select {key_list} from {root} where false")
    placeholders = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    for chunk in _chunks(rows, _INSERT_ROWS):
        client.execute_sql(
            f"insert into {_GONE_TABLE} values {', '.join([placeholders] * len(chunk))}",
            *(value for row in chunk for value in row),
        )
    yield
    client.execute_sql(f"drop table {_GONE_TABLE}")


def _chunks(rows: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _chain(schema: Schema, table: str) -> list[str]:
    """The table and its child tables, as dlt's schema knows them (the table first)."""
    if table not in schema.tables:
        return [table]
    return [nested["name"] for nested in get_nested_tables(schema.tables, table)]


def _dataset_columns(client: Any) -> dict[str, set[str]]:
    if not client.has_dataset():
        return {}
    rows = client.execute_sql(
        "select table_name, column_name from information_schema.columns where table_schema = %s",
        client.dataset_name,
    )
    columns: dict[str, set[str]] = {}
    for table, column in rows or []:
        columns.setdefault(table, set()).add(column)
    return columns
