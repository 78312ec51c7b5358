"""Soft (or hard) deletes: the rows a complete walk did not meet, marked after each load (DuckDB, Postgres).

Every table of a resource that walks its whole collection (`sources.instantly.deletions`), each of its child
tables, and each report whose rows are about one of its items (analytics per campaign) carries
`_deleted_at`: NULL while the row is live, else when the walk that noticed it gone began. After each load,
for every walk that reached its end whole, the table's keys (of this workspace, where workspaces share the
dataset) are read back and checked against the hashes the walk kept; only the keys whose mark changes are
written back, through a temporary table. So the cost is a read of one key column plus writes in proportion
to what changed: a 1M-lead table with 1% deleted reads 1M keys and writes 10,000.

What happens to a key (`Action`):
- **mark**: live, and the walk did not meet it: it, its child rows and its items' report rows get
  `_deleted_at`, and its open version in `<table>_history` closes then;
- **remove** (`hard` only): already marked by an earlier walk, and missed again: deleted, child and report
  rows first. Two complete walks in a row must miss a row before it goes, so a one-off miss (an item that
  moved under the pagination) never loses a row a later walk would not write again (an unchanged lead);
- **revive**: marked, and met again: live again, its last history version reopened. (A merge that rewrites
  a row makes it live by itself: dlt inserts it whole, `_deleted_at` NULL.)

Each table's changes are one transaction: a crash leaves the marks of the last walk or none. A sweep that
fails (the database refused a statement) rolls back alone: the run goes on, says so, and the next complete
walk sweeps again.
"""

import enum
import logging
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg2.extensions
from dlt.common.schema import Schema
from dlt.common.schema.utils import get_nested_tables
from dlt.pipeline.pipeline import Pipeline

from sources.instantly.deletions import OWNED_TABLES, CompleteWalk, Deletes
from sources.instantly.settings import DELETED_AT_COLUMN, DELETION_READ_ROWS

from . import dataset_columns

logger = logging.getLogger(__name__)

WORKSPACE_COLUMN = "workspace_id"
HISTORY_SUFFIX = "_history"
_KEYS_TABLE = "_instantly_swept_keys"
_INSERT_ROWS = 500  # keys per insert into the temporary table


class Action(enum.Enum):
    MARK = "mark"
    REMOVE = "remove"
    REVIVE = "revive"


@dataclass
class Swept:
    table: str
    keys: dict[Action, int] = field(default_factory=dict)  # keys per action
    error: str | None = None  # why the sweep was rolled back, if it was

    @property
    def found_gone(self) -> int:
        """Rows this walk found deleted in Instantly: marked now (a removal counted when it was marked)."""
        return self.keys.get(Action.MARK, 0)


def sweep(pipeline: Pipeline, walks: list[CompleteWalk], marked_tables: Iterable[str]) -> list[Swept]:
    """`_deleted_at` on each of `marked_tables` that exists, and on its child tables (what models and queries
    filter on, there from the first load whatever `deletes` says); then, for each complete walk, mark,
    remove or revive the rows of its table by what the walk met."""
    schema = pipeline.default_schema
    swept = []
    with pipeline.sql_client() as client:
        columns = dataset_columns(client)
        _add_deleted_columns(client, schema, columns, marked_tables)
        for walk in walks:
            if walk.table in columns:  # else nothing was loaded yet
                swept.append(_sweep_table(client, _Scope(client, schema, columns, walk)))
    return swept


def _add_deleted_columns(
    client: Any, schema: Schema, columns: dict[str, set[str]], tables: Iterable[str]
) -> None:
    for table in tables:
        for name in _chain(schema, table):
            if name in columns and DELETED_AT_COLUMN not in columns[name]:
                client.execute_sql(
                    f"alter table {client.make_qualified_table_name(name)} add column "
                    f"{client.escape_column_name(DELETED_AT_COLUMN)} timestamp with time zone"
                )
                columns[name].add(DELETED_AT_COLUMN)


def _sweep_table(client: Any, scope: "_Scope") -> Swept:
    swept = Swept(scope.walk.table)
    try:
        with client.begin_transaction():  # Postgres streams the keys through a cursor inside one
            actions = _actions(client, scope)
            for action, keys in actions.items():
                if keys:
                    with _keys_table(client, scope, keys):
                        _apply(client, scope, action)
        swept.keys = {action: len(keys) for action, keys in actions.items() if keys}
    except Exception as exc:
        swept.error = " ".join(str(exc).split())
        logger.warning(
            "instantly-sync: marking the deleted rows of %s failed: %s", scope.walk.table, swept.error
        )
    return swept


class _Scope:
    """One walk's table in SQL: its qualified names, key columns and workspace condition."""

    def __init__(self, client: Any, schema: Schema, columns: dict[str, set[str]], walk: CompleteWalk):
        self.walk, self.columns = walk, columns
        self.table = client.make_qualified_table_name(walk.table)
        self.keys = [
            client.escape_column_name(schema.naming.normalize_identifier(k)) for k in walk.key_fields
        ]
        self.key_list = ", ".join(self.keys)
        self.deleted = client.escape_column_name(DELETED_AT_COLUMN)
        shared = walk.workspace_id is not None and WORKSPACE_COLUMN in columns[walk.table]
        self.workspace = client.escape_column_name(WORKSPACE_COLUMN) if shared else None
        self.children = [
            client.make_qualified_table_name(name)
            for name in _chain(schema, walk.table)[1:]
            if name in columns
        ]
        self.owned = [
            (
                client.make_qualified_table_name(name),
                client.escape_column_name(column),
                [
                    client.make_qualified_table_name(child)
                    for child in _chain(schema, name)[1:]
                    if child in columns
                ],
            )
            for name, column in OWNED_TABLES.get(walk.table, ())
            if name in columns and column in columns[name]
        ]
        history = walk.table + HISTORY_SUFFIX
        self.history = (
            client.make_qualified_table_name(history) if "valid_to" in columns.get(history, ()) else None
        )

    def in_workspace(self, alias: str = "") -> str:
        return f" and {alias}{self.workspace} = %s" if self.workspace else ""

    @property
    def workspace_args(self) -> list[Any]:
        return [self.walk.workspace_id] if self.workspace else []

    @property
    def listed(self) -> str:
        """Rows of the table whose key is in the temporary table."""
        return f"({self.key_list}) in (select {self.key_list} from {_KEYS_TABLE}){self.in_workspace()}"


def _actions(client: Any, scope: _Scope) -> dict[Action, list[tuple[Any, ...]]]:
    """The keys of the table whose mark changes, per action.

    Two reads of the key column: the first hashes every key (8 bytes a row) and finds, in one lookup among
    the walk's hashes, which ones change; the second collects the keys with those hashes."""
    walk, hard = scope.walk, scope.walk.deletes is Deletes.HARD
    condition = f" where {scope.workspace} = %s" if scope.workspace else ""
    hashes, marked = array("q"), bytearray()
    select = f"select {scope.key_list}, {scope.deleted} is not null from {scope.table}{condition}"
    for rows in _read(client, select, scope.workspace_args):
        hashes.extend(walk.seen.hash_key(row[:-1]) for row in rows)
        marked.extend(bool(row[-1]) for row in rows)
    wanted: dict[int, Action] = {}
    for key_hash, unseen, mark in zip(hashes, walk.seen.unseen(hashes), marked, strict=True):
        if unseen and not mark:
            wanted[key_hash] = Action.MARK
        elif unseen and hard:
            wanted[key_hash] = Action.REMOVE
        elif mark and not unseen:
            wanted[key_hash] = Action.REVIVE
    del hashes, marked
    actions: dict[Action, list[tuple[Any, ...]]] = {action: [] for action in Action}
    if wanted:
        for rows in _read(
            client, f"select {scope.key_list} from {scope.table}{condition}", scope.workspace_args
        ):
            for row in rows:
                action = wanted.get(walk.seen.hash_key(tuple(row)))
                if action:
                    actions[action].append(tuple(row))
    return actions


def _apply(client: Any, scope: _Scope, action: Action) -> None:
    at = scope.walk.started_at if action is Action.MARK else None
    args = scope.workspace_args
    root_ids = f"select _dlt_id from {scope.table} where {scope.listed}"
    if action is Action.REVIVE and scope.history:
        _reopen_history(client, scope)
    for owned, column, owned_children in scope.owned:
        of_items = f"{column} in (select {scope.keys[0]} from {_KEYS_TABLE}){scope.in_workspace()}"
        owned_ids = f"select _dlt_id from {owned} where {of_items}"
        for child in owned_children:
            _change(client, scope, action, child, f"_dlt_root_id in ({owned_ids})", at, args)
        _change(client, scope, action, owned, of_items, at, args)
    for child in scope.children:
        _change(client, scope, action, child, f"_dlt_root_id in ({root_ids})", at, args)
    _change(client, scope, action, scope.table, scope.listed, at, args)
    if action is Action.MARK and scope.history:
        client.execute_sql(
            f"update {scope.history} set valid_to = greatest(valid_from, %s) "
            f"where valid_to is null and {scope.listed}",
            at,
            *args,
        )


def _change(
    client: Any, scope: _Scope, action: Action, table: str, rows: str, at: datetime | None, args: list[Any]
) -> None:
    if action is Action.REMOVE:
        client.execute_sql(f"delete from {table} where {rows}", *args)
    else:
        client.execute_sql(f"update {table} set {scope.deleted} = %s where {rows}", at, *args)


def _reopen_history(client: Any, scope: _Scope) -> None:
    """A revived key's last version is current again (the sweep that marked it closed it), unless a load
    has since written it a new one."""
    same_key = " and ".join(f"later.{key} = h.{key}" for key in scope.keys)
    if scope.workspace:
        same_key += f" and later.{scope.workspace} = h.{scope.workspace}"
    own_key = ", ".join(f"h.{key}" for key in scope.keys)
    client.execute_sql(
        f"update {scope.history} as h set valid_to = null where ({own_key}) in "
        f"(select {scope.key_list} from {_KEYS_TABLE}){scope.in_workspace('h.')} and not exists "
        f"(select 1 from {scope.history} later where {same_key} "
        f"and (later.valid_to is null or later.valid_from > h.valid_from))",
        *scope.workspace_args,
    )


@contextmanager
def _keys_table(client: Any, scope: _Scope, rows: list[tuple[Any, ...]]) -> Iterator[None]:
    """A temporary table of `rows` (the key columns, typed as in the table) for as long as the block runs."""
    client.execute_sql(
        f"create temporary table {_KEYS_TABLE} as select {scope.key_list} from {scope.table} where false"
    )
    placeholders = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    for start in range(0, len(rows), _INSERT_ROWS):
        chunk = rows[start : start + _INSERT_ROWS]
        client.execute_sql(
            f"insert into {_KEYS_TABLE} values {', '.join([placeholders] * len(chunk))}",
            *(value for row in chunk for value in row),
        )
    yield
    client.execute_sql(f"drop table {_KEYS_TABLE}")


def _read(client: Any, sql: str, args: list[Any]) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of a query, `DELETION_READ_ROWS` at a time. On Postgres through a server-side cursor (it
    needs the open transaction): psycopg2's usual cursor would hold the whole answer in memory."""
    connection = client.native_connection
    if isinstance(connection, psycopg2.extensions.connection):
        with connection.cursor(name="instantly_keys") as cursor:
            cursor.itersize = DELETION_READ_ROWS
            cursor.execute(sql, args or None)
            while rows := cursor.fetchmany(DELETION_READ_ROWS):
                yield rows
        return
    with client.execute_query(sql, *args) as cursor:
        while rows := cursor.fetchmany(DELETION_READ_ROWS):
            yield rows


def _chain(schema: Schema, table: str) -> list[str]:
    """The table and its child tables, as dlt's schema knows them (the table first)."""
    if table not in schema.tables:
        return [table]
    return [nested["name"] for nested in get_nested_tables(schema.tables, table)]
