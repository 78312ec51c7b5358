"""DuckDB loads rows wider than its configured memory limit allows by retrying with more memory, and a
load that cannot get enough fails with DuckDB's own words and loses nothing (`destinations.duckdb_memory`).

The simulator's emails carry short bodies; real ones quote whole threads in HTML. A `rewrite` fault widens
every body on its way out, so DuckDB must hold vectors of 2,048 rows of ~60 KB each (~120 MB).
"""

import logging

import duckdb
import orjson
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from destinations import duckdb_memory
from sources.simulator import Fault, Simulator, World
from tests.conftest import duckdb_warehouse_for

EMAILS = 3_000
HTML_BYTES = 60_000
UNLIMITED = {"max_requests_per_second": 0, "max_requests_per_minute": 0, "emails_requests_per_minute": 0}


def _widen_bodies(body: bytes) -> bytes:
    page = orjson.loads(body)
    quoted = "<blockquote>" + "an earlier message in the thread " * (HTML_BYTES // 33) + "</blockquote>"
    for item in page.get("items", []):
        item["body"]["html"] = item["body"]["html"] + quoted
    return orjson.dumps(page)


@pytest.fixture
def wide_emails():
    world = World(seed=5, sizes={"campaigns": 2, "accounts": 3, "leads": 40, "emails": EMAILS})
    with Simulator(world) as simulator:
        simulator.faults.add(Fault(path="/api/v2/emails", method="GET", kind="rewrite", body=_widen_bodies))
        yield simulator


def test_a_load_too_wide_for_the_memory_limit_is_retried_with_more(tmp_path, wide_emails, caplog):
    warehouse = duckdb_warehouse_for(tmp_path, wide_emails)

    with caplog.at_level(logging.WARNING, logger="pipelines.sync"):
        warehouse.sync(resources=["emails"], **UNLIMITED)

    configured = duckdb_memory.limit_of(warehouse.target.credentials())
    assert f"DuckDB ran out of its {configured} memory limit" in caplog.text
    # read as an analyst reads it: DuckDB's own defaults, not the sync's memory limit
    with duckdb.connect(warehouse.target.duckdb_path, read_only=True) as connection:
        sql = "select count(*), min(length(body__html)) from instantly.emails"
        [(count, shortest_html)] = connection.execute(sql).fetchall()
    assert count == EMAILS and shortest_html > HTML_BYTES


def test_a_load_that_cannot_get_enough_memory_fails_and_the_next_run_loads_it(
    tmp_path, wide_emails, monkeypatch, caplog
):
    warehouse = duckdb_warehouse_for(tmp_path, wide_emails)
    monkeypatch.setattr(duckdb_memory, "DUCKDB_MAX_MEMORY_FRACTION", 0.0)

    with (
        caplog.at_level(logging.ERROR, logger="pipelines.sync"),
        pytest.raises(PipelineStepFailed, match="Out of Memory"),
    ):
        warehouse.sync(resources=["emails"], **UNLIMITED)
    assert "the package stays pending" in caplog.text
    monkeypatch.undo()
    warehouse.sync(resources=["emails"], **UNLIMITED)

    assert warehouse.query("select count(*), count(distinct id) from {ds}.emails") == [(EMAILS, EMAILS)]
