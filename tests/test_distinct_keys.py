"""A walk that yields no key twice in a load package lets dlt's merge skip deduplicating the staging table;
a walk that repeats one keeps the deduplication, so no row is ever doubled. (A resumed package copies each
file once: tests/test_crash_resume.py, `staging_copy_declared_deduplicated`.)"""

from pipelines.sync import make_pipeline
from sources.instantly.merging import DEDUPLICATED_HINT
from sources.simulator import Fault

from .conftest import Warehouse

LEADS_PATH = "/api/v2/leads/list"


def declared_deduplicated(warehouse: Warehouse) -> bool:
    schema = make_pipeline(warehouse.target, warehouse.pipelines_dir).default_schema
    return bool(schema.tables["leads"].get(DEDUPLICATED_HINT))


def test_a_first_load_whose_leads_never_repeat_declares_its_staging_data_deduplicated(warehouse, world):
    warehouse.sync(resources=["leads"])
    assert declared_deduplicated(warehouse)
    assert warehouse.keys("leads") == sorted(world.ids("leads"))


def test_a_walk_that_repeats_a_lead_after_a_distinct_load_keeps_the_deduplication(
    warehouse, simulator, world
):
    warehouse.sync(resources=["leads"])
    world.update("leads", ids=world.ids("leads"))  # the rerun writes every lead again
    simulator.faults.add(Fault(path=LEADS_PATH, kind="repeat_item", times=1, after_requests=1))

    warehouse.sync(resources=["leads"])

    assert not declared_deduplicated(warehouse)
    assert warehouse.count("leads") == len(world.ids("leads"))
    assert warehouse.keys("leads") == sorted(world.ids("leads"))
