"""Postgres loads by COPY (`destinations.postgres_copy`): a large file bound for staging is copied in parts
at once, which commit together; a connection lost on the way loses and repeats no row; and times land as the
instants they were, whatever the session's zone."""

import sys
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import pendulum
import psycopg2
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from destinations import Target, postgres_copy
from sources.instantly import settings
from sources.simulator import Simulator, World
from tests.conftest import POSTGRES_URL, SMALL_WORLD, Warehouse

LEADS = 1_500
ROWS_PER_ROW_GROUP = 500  # the leads file holds three row groups


@pytest.fixture
def world() -> World:
    return World(seed=11, sizes={**SMALL_WORLD, "leads": LEADS})


@pytest.fixture
def parts_copied(monkeypatch) -> list[list[int]]:
    """Every file with several row groups is copied in parts; the row groups of each part copied beside the
    job's own."""
    monkeypatch.setattr(settings, "ARROW_BATCH_ITEMS", ROWS_PER_ROW_GROUP)
    monkeypatch.setenv("DATA_WRITER__BUFFER_MAX_ITEMS", str(ROWS_PER_ROW_GROUP))  # each batch written alone
    monkeypatch.setattr(postgres_copy, "PARALLEL_COPY_MIN_ROWS", 1)
    parts: list[list[int]] = []
    start = postgres_copy._CopyThread.__init__

    def recorded(self, connection, copy, path, row_groups):
        parts.append(row_groups)
        start(self, connection, copy, path, row_groups)

    monkeypatch.setattr(postgres_copy._CopyThread, "__init__", recorded)
    return parts


def lead_rows(warehouse: Warehouse) -> tuple[int, int]:
    return warehouse.query("select count(*), count(distinct id) from {ds}.leads")[0]


def test_a_large_file_is_copied_in_parts_and_every_row_lands_once(postgres_warehouse, parts_copied):
    postgres_warehouse.sync(resources=["leads"])
    assert parts_copied, "no file was copied in parts"
    assert lead_rows(postgres_warehouse) == (LEADS, LEADS)


def test_a_part_that_fails_rolls_back_every_part_and_the_retry_lands_each_row_once(
    postgres_warehouse, parts_copied, monkeypatch
):
    failures = []
    copy_part = postgres_copy._CopyThread.run

    def fails_once(self):
        if not failures:
            failures.append(self)
            self.error = ConnectionError("the part's connection dropped")
            return
        copy_part(self)

    monkeypatch.setattr(postgres_copy._CopyThread, "run", fails_once)
    postgres_warehouse.sync(resources=["leads"])  # dlt retries the job: the job's own part rolled back too
    assert failures
    assert lead_rows(postgres_warehouse) == (LEADS, LEADS)


def test_times_land_as_the_same_instants_whatever_the_sessions_time_zone(
    tmp_path: Path, simulator: Simulator, world: World, postgres_dataset: str, parts_copied
):
    in_new_york = f"{POSTGRES_URL}?options={quote('-cTimeZone=America/New_York')}"
    target = Target(destination="postgres", dataset=postgres_dataset, postgres_credentials=in_new_york)
    warehouse = Warehouse(target, str(tmp_path / "pipelines"), simulator)
    warehouse.sync(resources=["leads"])
    assert warehouse.query("show timezone") == [("America/New_York",)]
    loaded = dict(warehouse.query("select id, timestamp_created from {ds}.leads"))
    expected = {item["id"]: pendulum.parse(item["timestamp_created"]) for item in world.items("leads")}
    assert loaded == expected


def test_a_file_is_copied_in_one_stream_when_postgres_refuses_a_second_connection(
    postgres_warehouse, parts_copied, monkeypatch
):
    connect = psycopg2.connect

    def refused_to_the_copy(*args, **kwargs):
        """Connections for dlt's own clients open; those for the copy's parts are refused."""
        if sys._getframe(1).f_globals["__name__"] == postgres_copy.__name__:
            raise psycopg2.OperationalError("FATAL: sorry, too many clients already")
        return connect(*args, **kwargs)

    monkeypatch.setattr(psycopg2, "connect", refused_to_the_copy)
    postgres_warehouse.sync(resources=["leads"])
    assert parts_copied == []
    assert lead_rows(postgres_warehouse) == (LEADS, LEADS)


def test_a_connection_lost_after_another_part_committed_duplicates_no_row_by_the_next_run(
    postgres_warehouse, parts_copied, monkeypatch
):
    """The other parts commit before the job's own: its connection dying between leaves their rows in
    staging, where a repeat of the job would copy them again."""
    copy_in_parts = postgres_copy.ParquetCopyJob._copy_in_parts
    lost = []

    def connection_lost_once_the_others_committed(self, cursor, copy, parts):
        copied = copy_in_parts(self, cursor, copy, parts)
        if copied and not lost:
            lost.append(self.load_table_name)
            cursor.execute("select pg_terminate_backend(pg_backend_pid())")
        return copied

    monkeypatch.setattr(
        postgres_copy.ParquetCopyJob, "_copy_in_parts", connection_lost_once_the_others_committed
    )
    with pytest.raises(PipelineStepFailed, match="leads__dlt_id_key"):  # the repeats hit the committed part
        postgres_warehouse.sync(resources=["leads"])
    assert lost == ["leads"]
    postgres_warehouse.sync(resources=["leads"])  # loads the pending package first, from empty staging
    assert lead_rows(postgres_warehouse) == (LEADS, LEADS)


def test_a_copy_whose_backend_the_server_ends_is_repeated_and_lands_each_row_once(
    postgres_warehouse, parts_copied, monkeypatch, postgres_dataset
):
    """The server ends a backend during its COPY, as a restart or an idle-session killer would: dlt
    repeats the job on a new connection, and what the cut-off COPY had sent was never committed."""
    read = postgres_copy._CsvStream.readinto
    cut_off: list[int] = []

    def server_ends_a_copy(self, buffer):
        """On the first read of a COPY, once its backend shows it, end that backend."""
        if not cut_off:
            with closing(psycopg2.connect(POSTGRES_URL)) as admin, admin.cursor() as cursor:
                admin.autocommit = True
                for _ in range(100):
                    cursor.execute(
                        "select pid from pg_stat_activity where query ilike %s and pg_terminate_backend(pid)",
                        (f'copy "{postgres_dataset}%',),
                    )
                    cut_off.extend(pid for (pid,) in cursor.fetchall())
                    if cut_off:
                        break
                    time.sleep(0.02)
        return read(self, buffer)

    monkeypatch.setattr(postgres_copy._CsvStream, "readinto", server_ends_a_copy)
    postgres_warehouse.sync(resources=["leads"])
    assert cut_off
    assert lead_rows(postgres_warehouse) == (LEADS, LEADS)
