"""A DuckDB file's row groups are compacted in batches: a turn's checkpoint merges a table's small row groups
only once it holds `ROW_GROUP_SLACK` more than its rows need (`destinations.duckdb_vacuum`)."""

from pathlib import Path

import duckdb
import pytest

from destinations import Target, duckdb_vacuum
from pipelines.lock import turn

ROWS_PER_TURN = 1_000


@pytest.fixture
def target(tmp_path: Path) -> Target:
    target = Target(duckdb_path=str(tmp_path / "vacuum.duckdb"))
    with turn(target), duckdb.connect(target.duckdb_path) as connection:
        connection.execute("create table appended (id bigint, name varchar)")
    return target


def append_in_a_turn(target: Target, start: int) -> None:
    """What a load does: rows appended in the dataset's turn, through a connection of its own."""
    with turn(target), duckdb.connect(target.duckdb_path) as connection:
        connection.execute(
            "insert into appended select range, 'row ' || range from range(?, ?)",
            [start, start + ROWS_PER_TURN],
        )


def row_groups(target: Target) -> int:
    with duckdb.connect(target.duckdb_path, read_only=True) as connection:
        return duckdb_vacuum.row_groups(connection, "main", "appended")


def test_turns_leave_a_few_small_row_groups_unmerged(target, monkeypatch):
    monkeypatch.setattr(duckdb_vacuum, "ROW_GROUP_SLACK", 4)
    for turns in range(1, 4):
        append_in_a_turn(target, turns * ROWS_PER_TURN)
        assert row_groups(target) == turns


def test_the_turn_that_reaches_the_slack_merges_them(target, monkeypatch):
    monkeypatch.setattr(duckdb_vacuum, "ROW_GROUP_SLACK", 4)
    for turns in range(1, 6):
        append_in_a_turn(target, turns * ROWS_PER_TURN)
    assert row_groups(target) < 4
    with duckdb.connect(target.duckdb_path, read_only=True) as connection:
        assert connection.execute("select count(*), count(distinct id) from appended").fetchone() == (
            5_000,
            5_000,
        )


def test_a_turn_that_changes_nothing_never_vacuums(target, monkeypatch):
    monkeypatch.setattr(duckdb_vacuum, "ROW_GROUP_SLACK", 2)
    with turn(target), duckdb.connect(target.duckdb_path) as connection:
        assert duckdb_vacuum.vacuum_if_fragmented(connection, duckdb_vacuum.table_sizes(connection)) is False


def test_the_database_vacuums_as_usual_outside_turns(target):
    with turn(target), duckdb.connect(target.duckdb_path) as connection:
        assert connection.execute("select current_setting('max_vacuum_tasks')").fetchone()[0] == 0
    with duckdb.connect(target.duckdb_path) as connection:
        assert connection.execute("select current_setting('max_vacuum_tasks')").fetchone()[0] > 0


def test_a_compaction_check_that_fails_leaves_the_turns_rows_and_the_turn_ends(target, monkeypatch):
    def unreadable(connection, schema, table):
        raise duckdb.IOException("storage info unreadable")

    monkeypatch.setattr(duckdb_vacuum, "row_groups", unreadable)
    append_in_a_turn(target, 0)
    with duckdb.connect(target.duckdb_path, read_only=True) as connection:
        assert connection.execute("select count(*) from appended").fetchone() == (ROWS_PER_TURN,)
