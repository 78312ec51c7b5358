"""A walk that yields no key twice in a load package lets dlt's merge skip deduplicating the staging table;
a walk that repeats one, and every resumed package, keep the deduplication, so no row is ever doubled."""

import shutil
from pathlib import Path

from pipelines.sync import make_pipeline
from sources.instantly import instantly_source
from sources.instantly.merging import DEDUPLICATED_HINT
from sources.simulator import Fault

from .conftest import FAST_RETRIES, Warehouse

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


def test_a_resumed_package_whose_staging_copy_runs_twice_still_loads_each_lead_once(
    duckdb_warehouse, simulator, world
):
    """A run killed after a staging copy committed, before dlt recorded it, copies the same file again when
    the package is resumed: here the package holds the same job file twice. (On Postgres dlt's staging
    tables have a unique `_dlt_id`, so a second copy fails instead of doubling rows.)"""
    warehouse = duckdb_warehouse
    pipeline = make_pipeline(warehouse.target, warehouse.pipelines_dir)
    source_args = {"base_url": simulator.base_url, "api_key": simulator.api_key, **FAST_RETRIES}
    source = instantly_source(resources=["leads"], declare_distinct_keys=True, **source_args)
    pipeline.extract(source, loader_file_format=warehouse.target.loader_file_format)
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    jobs = Path(pipeline.working_dir, "load", "normalized", load_id, "new_jobs")
    (job,) = jobs.glob("leads.*")
    table, file_id, retry, extension = job.name.split(".")
    shutil.copy(job, jobs / f"{table}.{file_id}x.{retry}.{extension}")

    warehouse.sync(resources=["leads"])

    assert warehouse.count("leads") == len(world.ids("leads"))
    assert warehouse.keys("leads") == sorted(world.ids("leads"))
