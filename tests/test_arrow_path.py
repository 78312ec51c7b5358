"""The Arrow fast path cannot be told apart from the dict path: the same world synced with it on and off gives
the same dlt schemas and the same rows, on DuckDB and Postgres, after reruns with changed items, new fields
and a type change, and with several workspaces in one dataset. `lead_variables` holds one row per payload key.
"""

import json
import logging
import uuid
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest
from dlt.common.json import PUA_START

from destinations import Target
from destinations.models import refresh
from pipelines.sync import make_pipeline
from sources.instantly import settings
from sources.instantly.arrow_rows import ArrowTables

from .conftest import POSTGRES_URL, Warehouse, drop_postgres_dataset, require_postgres
from .test_workspaces import configure, reader, simulators, sync_all  # noqa: F401 (a fixture)

NAMES = ("fast", "dicts")
IGNORED = {"_dlt_load_id", "_dlt_id", "_dlt_root_id", "_dlt_parent_id"}  # random ids, per load and row


def _target(destination: str, folder: Path, datasets: list[str]) -> Target:
    folder.mkdir(parents=True, exist_ok=True)
    if destination == "duckdb":
        return Target(destination="duckdb", duckdb_path=str(folder / "warehouse.duckdb"))
    dataset = f"instantly_test_{uuid.uuid4().hex[:10]}"
    datasets.append(dataset)
    return Target(destination="postgres", dataset=dataset, postgres_credentials=POSTGRES_URL)


@pytest.fixture(params=["duckdb", "postgres"])
def targets(request: pytest.FixtureRequest, tmp_path: Path):
    """Two empty targets of one destination: (Arrow fast path, dict path)."""
    if request.param == "postgres":
        require_postgres()
    datasets: list[str] = []
    yield tuple(_target(request.param, tmp_path / name, datasets) for name in ("fast", "dicts"))
    for dataset in datasets:
        drop_postgres_dataset(dataset)


def schema_tables(warehouse: Warehouse, workspace: str | None = None) -> dict:
    target = replace(warehouse.target, workspace=workspace)
    return {t["name"]: t for t in make_pipeline(target, warehouse.pipelines_dir).default_schema.data_tables()}


def assert_same(fast: Warehouse, dicts: Warehouse, workspaces: tuple[str | None, ...] = (None,)) -> None:
    """Every table: the same dlt table schema (columns in order, types, nullability, keys, hints) in each
    workspace's pipeline, and the same rows."""
    for workspace in workspaces:
        fast_tables, dict_tables = schema_tables(fast, workspace), schema_tables(dicts, workspace)
        assert fast_tables.keys() == dict_tables.keys()
        for name, table in fast_tables.items():
            assert list(table["columns"]) == list(dict_tables[name]["columns"]), name
            assert table == dict_tables[name], name
    for name, table in fast_tables.items():
        columns = ", ".join(c for c in table["columns"] if c not in IGNORED)
        rows = [sorted(w.query(f"select {columns} from {{ds}}.{name}"), key=repr) for w in (fast, dicts)]
        assert rows[0] == rows[1], name


def fast_and_dicts(targets, tmp_path: Path, simulator) -> tuple[Warehouse, Warehouse]:
    """Warehouses of the two targets, synced with the fast path on and off."""
    fast, dicts = (
        Warehouse(t, str(tmp_path / n / "pipelines"), simulator) for t, n in zip(targets, "fd", strict=True)
    )
    fast.source_args, dicts.source_args = {"arrow_fast_path": True}, {"arrow_fast_path": False}
    return fast, dicts


def test_leads_land_the_same_with_and_without_the_fast_path_also_after_changes(targets, tmp_path, simulator):
    world = simulator.world
    fast, dicts = fast_and_dicts(targets, tmp_path, simulator)
    for warehouse in (fast, dicts):
        warehouse.sync(resources=["leads"])
    assert fast.count("leads") == len(world.items("leads"))
    assert_same(fast, dicts)

    world.add_field("leads", "enrichment", lambda item: {"tier": item["id"][:1], "score": len(item["email"])})
    world.update("leads", 40)
    world.update("leads", ids=world.ids("leads")[:3], changes={"email_open_count": "many"})  # a variant
    for warehouse in (fast, dicts):
        warehouse.sync(resources=["leads"])
    assert_same(fast, dicts)
    assert (
        "email_open_count__v_text"
        in make_pipeline(fast.target, fast.pipelines_dir).default_schema.tables["leads"]["columns"]
    )


def test_mixed_whole_and_fractional_numbers_stay_on_the_fast_path_as_doubles(
    monkeypatch, targets, tmp_path, simulator
):
    counts = [lead.get("email_open_count") for lead in simulator.world.items("leads")]
    assert {type(count) for count in counts if count is not None} == {int, float}  # `3` and `2.5`
    built = []
    original = ArrowTables.build
    monkeypatch.setattr(
        ArrowTables, "build", lambda self, items: built.append(original(self, items)) or built[-1]
    )
    fast, dicts = fast_and_dicts(targets, tmp_path, simulator)
    for warehouse in (fast, dicts):
        warehouse.sync(resources=["leads"])
    assert built and all(isinstance(table, pa.Table) for table, _ in built)  # no batch went as dicts
    assert {str(table.schema.field("email_open_count").type) for table, _ in built} == {"double"}
    assert_same(fast, dicts)


SMALL_BATCHES = 50  # a batch a page of 100: the small world's 230 leads in three batches


def test_values_of_another_type_are_fitted_on_the_fast_path_as_the_normalizer_fits_them(
    monkeypatch, targets, tmp_path, simulator, caplog
):
    """Coerced (`"7"` into the bigint `status`, a timestamp written another way parsed), moved into variant
    columns (`"many"` opens), or flattened row by row (an object in some rows, a value in others)."""
    monkeypatch.setattr(settings, "ARROW_BATCH_ITEMS", SMALL_BATCHES)
    caplog.set_level(logging.INFO, "sources.instantly.arrow_rows")
    world = simulator.world
    ids = world.ids("leads")
    world.update("leads", ids=ids[3:5], changes={"status": "7"})
    world.update("leads", ids=ids[60:62], changes={"email_open_count": "many"})
    world.update("leads", ids=ids[120:122], changes={"timestamp_last_contact": "2025-03-04 05:06:07"})
    world.update("leads", ids=ids[130:131], changes={"timestamp_last_contact": "not a time"})
    world.add_field("leads", "enrichment", lambda item: {"tier": "a"} if item["id"] in ids[:100] else "none")
    fast, dicts = fast_and_dicts(targets, tmp_path, simulator)
    results = [warehouse.sync(resources=["leads"]) for warehouse in (fast, dicts)]
    stats = results[0].progress.of("leads")
    assert (stats.arrow_batches, stats.dict_batches) == (3, 0), caplog.text
    assert_same(fast, dicts)
    columns = schema_tables(fast)["leads"]["columns"]
    assert {
        "email_open_count__v_text",
        "timestamp_last_contact__v_text",
        "enrichment",
        "enrichment__tier",
    } <= set(columns)


def test_a_batch_holding_a_child_table_goes_as_dicts_alone(monkeypatch, targets, tmp_path, simulator):
    monkeypatch.setattr(settings, "ARROW_BATCH_ITEMS", SMALL_BATCHES)
    world = simulator.world
    ids = world.ids("leads")
    world.add_field(
        "leads", "phones", lambda item: ["+1 555", "+1 556"] if item["id"] in ids[60:62] else None
    )
    world.add_field("leads", "source", lambda item: 3 if item["id"] in ids[60:200] else "web")
    fast, dicts = fast_and_dicts(targets, tmp_path, simulator)
    results = [warehouse.sync(resources=["leads"]) for warehouse in (fast, dicts)]
    stats = results[0].progress.of("leads")
    assert (stats.arrow_batches, stats.dict_batches) == (2, 1)
    assert results[1].progress.of("leads").dict_batches == 3
    assert_same(fast, dicts)
    assert "leads__phones" in schema_tables(fast)


def test_text_that_looks_like_dlts_typed_value_markers_goes_as_dicts_and_lands_the_same(
    monkeypatch, targets, tmp_path, simulator
):
    monkeypatch.setattr(settings, "ARROW_BATCH_ITEMS", SMALL_BATCHES)
    world = simulator.world
    marker = chr(PUA_START + 1)  # what dlt's normalizer reads as "a typed value follows"
    world.update("leads", ids=world.ids("leads")[150:151], changes={"payload": {"note": f"{marker}2021"}})
    fast, dicts = fast_and_dicts(targets, tmp_path, simulator)
    results = [warehouse.sync(resources=["leads"]) for warehouse in (fast, dicts)]
    assert results[0].progress.of("leads").dict_batches == 2  # that batch, and the rest of the extract
    assert_same(fast, dicts)


def test_several_workspaces_in_one_dataset_land_the_same(monkeypatch, simulators, targets, tmp_path):  # noqa: F811
    configure(monkeypatch, simulators)
    for target, name, fast in zip(targets, NAMES, (True, False), strict=True):
        assert sync_all(target, tmp_path / name, arrow_fast_path=fast).exit_code == 0
    fast, dicts = (reader(t, tmp_path / n, simulators["acme"]) for t, n in zip(targets, NAMES, strict=True))
    assert_same(fast, dicts, workspaces=tuple(simulators))


def _variable_value(value):
    """What the synced `leads__payload_variables` table held: strings as they are, other values as JSON."""
    return value if isinstance(value, str) or value is None else json.dumps(value, separators=(",", ":"))


def test_lead_variables_holds_one_row_per_payload_key(warehouse, world):
    warehouse.sync(resources=["leads"])
    result = refresh(make_pipeline(warehouse.target, warehouse.pipelines_dir))
    assert result.views == ["lead_variables"]
    rows = warehouse.query(
        "select workspace_id, workspace_name, lead_id, name, value from {ds}.lead_variables"
    )
    expected = [
        (None, None, lead["id"], name, _variable_value(value))
        for lead in world.items("leads")
        for name, value in (lead.get("payload") or {}).items()
    ]
    if warehouse.target.destination == "postgres":  # jsonb prints objects its own way: compare them as JSON
        rows, expected = ([(*r[:4], _as_json(r[4])) for r in found] for found in (rows, expected))
    assert sorted(rows, key=repr) == sorted(expected, key=repr)


def _as_json(text: str | None):
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return text


def test_the_view_is_dropped_before_a_full_refresh_drops_its_table(warehouse, world):
    warehouse.sync(resources=["leads"])
    refresh(make_pipeline(warehouse.target, warehouse.pipelines_dir))
    warehouse.sync(resources=["leads"], full_refresh=True)
    assert warehouse.count("leads") == len(world.items("leads"))


@pytest.mark.parametrize("setting, built", [(None, True), ("false", False)])
def test_the_switch_turns_the_fast_path_off(monkeypatch, duckdb_warehouse, world, setting, built):
    calls = []
    original = ArrowTables.build
    monkeypatch.setattr(
        ArrowTables, "build", lambda self, items: calls.append(len(items)) or original(self, items)
    )
    if setting:
        monkeypatch.setenv("SOURCES__INSTANTLY__ARROW_FAST_PATH", setting)
    duckdb_warehouse.sync(resources=["leads"])
    assert duckdb_warehouse.count("leads") == len(world.items("leads"))
    assert bool(calls) is built
