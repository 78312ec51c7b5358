"""Numbers stay whole: every spec `number` (but enum codes) lands in one double column, nested ones and those
of child tables included, whatever mix of `3` and `2.5` the API sends; warehouses that older syncs left with
split columns (BIGINT plus `<name>__v_double`) are folded into that one column at the start of a sync.

The simulated workspace mixes whole and fractional numbers in its `number` fields (`World(mixed_numbers=True)`
is the default), so an undeclared column would be typed by whichever value came first.
"""

import shutil
from types import SimpleNamespace

import dlt
import psycopg2
import pytest
from dlt.common.normalizers.naming import snake_case

from destinations import split_numbers
from destinations.models import refresh
from pipelines.sync import make_pipeline
from sources.instantly import columns
from sources.instantly.errors import InstantlyError

from .conftest import POSTGRES_URL, Warehouse

VARIANT = "__v_double"
# a top-level number, numbers of flattened objects, one of a child table, and a deal value summed in analytics
RESOURCES = ["campaigns", "accounts", "leads", "campaign_analytics"]


def destination_columns(warehouse: Warehouse) -> dict[tuple[str, str], str]:
    """(table, column) -> data type, as the destination's information_schema has them, for every table."""
    rows = warehouse.query(
        "select table_name, column_name, data_type from information_schema.columns "
        f"where table_schema = '{warehouse.target.dataset}'"
    )
    return {(table, column): kind.lower() for table, column, kind in rows}


def spec_number_columns(warehouse: Warehouse) -> set[tuple[str, str]]:
    naming = make_pipeline(warehouse.target, warehouse.pipelines_dir).default_schema.naming
    return {(table, column) for table, names in columns.number_columns(naming).items() for column in names}


def double_type(warehouse: Warehouse) -> str:
    return "double" if warehouse.target.destination == "duckdb" else "double precision"


def test_a_full_sync_of_mixed_numbers_creates_no_v_double_column_for_a_spec_number(warehouse):
    warehouse.sync()
    found = destination_columns(warehouse)
    numbers = spec_number_columns(warehouse) & found.keys()
    assert {
        ("accounts", "warmup__advanced__open_rate"),
        ("campaigns__sequences__steps", "pre_delay"),
    } <= numbers
    assert [column for column in found if column[1].endswith(VARIANT)] == []
    assert {column: found[column] for column in numbers} == dict.fromkeys(numbers, double_type(warehouse))


@pytest.mark.parametrize(
    "table, column, truth",
    [
        (
            "campaign_analytics",
            "total_opportunity_value",
            lambda world: [
                row["total_opportunity_value"] for row in world.campaign_totals(start="2015-01-01")
            ],
        ),
        (
            "campaigns__sequences__steps",
            "pre_delay",
            lambda world: [
                step.get("pre_delay")
                for campaign in world.items("campaigns")
                for sequence in campaign["sequences"]
                for step in sequence["steps"]
            ],
        ),
        (
            "accounts",
            "warmup__limit",
            lambda world: [a["warmup"].get("limit") for a in world.items("accounts")],
        ),
    ],
    ids=["deal_values", "step_delays_in_a_child_table", "warmup_limits_of_a_flattened_object"],
)
def test_the_sum_of_a_mixed_number_column_is_the_simulator_s_sum(warehouse, world, table, column, truth):
    values = [value for value in truth(world) if value is not None]
    assert {type(value) for value in values} == {int, float}  # the column mixes `3` and `2.5`
    warehouse.sync(resources=RESOURCES)
    assert warehouse.query(f"select sum({column}) from {{ds}}.{table}")[0][0] == pytest.approx(sum(values))


def sync_as_before_spec_numbers_were_declared(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync by the code as it was before (a monkeypatch, for building old warehouses only): no spec numbers
    known, so top-level ones are declared BIGINT, the type a first whole value gave them, and nested ones take
    the type of their first value; fractions then go to `__v_double` variants, and nothing is folded."""
    with monkeypatch.context() as patched:
        patched.setattr(columns, "spec_numbers", lambda endpoint: iter(()))
        warehouse.sync(resources=RESOURCES)


def split_columns(warehouse: Warehouse) -> dict[tuple[str, str], str]:
    """Spec-number columns (table, column) with a variant beside them -> that variant."""
    found = destination_columns(warehouse)
    return {
        (table, column): column + VARIANT
        for table, column in spec_number_columns(warehouse)
        if (table, column + VARIANT) in found
    }


def number_values(warehouse: Warehouse, splits: dict[tuple[str, str], str]) -> dict[tuple[str, str], list]:
    """Per split column, its values (the variant's where the column holds none), sorted."""
    found = destination_columns(warehouse)
    values = {}
    for (table, column), variant in splits.items():
        read = f"coalesce({column}, {variant})" if (table, variant) in found else column
        values[(table, column)] = sorted(
            (row[0] for row in warehouse.query(f"select {read} from {{ds}}.{table}")), key=repr
        )
    return values


def table_counts(warehouse: Warehouse, tables: set[str]) -> dict[str, int]:
    return {table: warehouse.count(table) for table in tables}


def crash_between_warehouse_and_schema(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync killed once the warehouse is folded, before dlt's schema is told: it still says BIGINT."""

    def killed(*args):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(split_numbers, "_declare_double", killed)
        with pytest.raises(KeyboardInterrupt):
            warehouse.sync(resources=RESOURCES)
    assert split_columns(warehouse) == {}


def fresh_runner(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runner without the working folder: dlt restores the old schema and state from the destination."""
    shutil.rmtree(warehouse.pipelines_dir)


def same_runner(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    pass


@pytest.mark.parametrize("before", [same_runner, fresh_runner, crash_between_warehouse_and_schema])
def test_an_old_warehouse_s_split_columns_are_folded_into_one_double_column_each(
    warehouse, monkeypatch, before
):
    sync_as_before_spec_numbers_were_declared(warehouse, monkeypatch)
    refresh(make_pipeline(warehouse.target, warehouse.pipelines_dir))  # views over the tables, as after a run
    splits = split_columns(warehouse)
    assert {
        ("leads", "email_open_count"),
        ("accounts", "warmup__limit"),
        ("campaigns__sequences__steps", "pre_delay"),
    } <= splits.keys()
    values, counts = number_values(warehouse, splits), table_counts(warehouse, {table for table, _ in splits})
    before(warehouse, monkeypatch)

    warehouse.sync(resources=RESOURCES)

    assert split_columns(warehouse) == {}
    found = destination_columns(warehouse)
    assert {found[column] for column in splits} == {double_type(warehouse)}
    assert number_values(warehouse, splits) == values
    assert table_counts(warehouse, set(counts)) == counts
    schema = make_pipeline(warehouse.target, warehouse.pipelines_dir).default_schema
    for (table, column), variant in splits.items():
        assert schema.tables[table]["columns"][column]["data_type"] == "double"
        assert variant not in schema.tables[table]["columns"]


def test_a_rerun_after_folding_changes_nothing(warehouse, monkeypatch):
    sync_as_before_spec_numbers_were_declared(warehouse, monkeypatch)
    splits = split_columns(warehouse)
    warehouse.sync(resources=RESOURCES)
    folded = (
        destination_columns(warehouse),
        number_values(warehouse, splits),
        table_counts(warehouse, {t for t, _ in splits}),
    )
    schema = make_pipeline(warehouse.target, warehouse.pipelines_dir).default_schema.to_dict()

    warehouse.sync(resources=RESOURCES)

    again = (
        destination_columns(warehouse),
        number_values(warehouse, splits),
        table_counts(warehouse, {t for t, _ in splits}),
    )
    assert again == folded
    assert (
        make_pipeline(warehouse.target, warehouse.pipelines_dir).default_schema.to_dict()["tables"]
        == schema["tables"]
    )


def test_a_split_column_that_a_view_of_the_user_reads_stops_the_sync_with_the_command_that_fixes_it(
    postgres_warehouse, monkeypatch
):
    sync_as_before_spec_numbers_were_declared(postgres_warehouse, monkeypatch)
    with psycopg2.connect(POSTGRES_URL) as connection, connection.cursor() as cursor:
        dataset = postgres_warehouse.target.dataset
        cursor.execute(f"create view {dataset}.opens as select id, email_open_count from {dataset}.leads")
    split = split_columns(postgres_warehouse)[("leads", "email_open_count")]

    with pytest.raises(InstantlyError, match=r"`instantly-sync reset leads`"):
        postgres_warehouse.sync(resources=RESOURCES)

    assert split_columns(postgres_warehouse)[("leads", "email_open_count")] == split


LONG_PATH = ("deliverabilityInsights", "perMailboxProviderBreakdown", "inboxPlacementRateForTheProvider")
LONG_LIST = "followUpStepsSentAfterTheFirstEmailOfTheCampaign"


def under(keys: tuple[str, ...], schema: dict) -> dict:
    """`schema` as the property of objects nested along `keys`."""
    for key in reversed(keys):
        schema = {"type": "object", "properties": {key: schema}}
    return schema


def value_under(keys: tuple[str, ...], value: float) -> dict:
    """`value` inside objects nested along `keys`."""
    for key in reversed(keys):
        value = {key: value}
    return value


def test_numbers_with_names_past_postgres_s_limit_are_declared_as_dlt_shortens_them(
    postgres_dataset, tmp_path
):
    """Declared names are shortened by dlt as it shortens the columns and tables its normalizer fills (to 63
    characters on Postgres, with a hash of the whole path): a mismatch would leave the declared column empty
    beside a BIGINT one and its variant. No spec name is that long, so a made-up endpoint's hints drive dlt
    straight into Postgres."""
    number = under(LONG_PATH, {"type": "number"})
    properties = {
        "id": {"type": "string"},
        **number["properties"],
        LONG_LIST: {"type": "array", "items": number},
    }
    endpoint = SimpleNamespace(
        name="accounts", item_schema={"properties": properties}, drop_fields=(), primary_key="id"
    )
    naming = snake_case.NamingConvention()  # the source schema's, which knows no destination's limit yet
    rows = [
        {"id": key, **value_under(LONG_PATH, value), LONG_LIST: [value_under(LONG_PATH, value)]}
        for key, value in (("a", 3), ("b", 2.5))
    ]
    resource = dlt.resource(
        rows,
        name="accounts",
        primary_key="id",
        write_disposition="merge",
        columns=columns.column_hints(endpoint, naming),
        nested_hints=columns.nested_hints(endpoint, naming),
    )
    destination = dlt.destinations.postgres(credentials=POSTGRES_URL)
    pipeline = dlt.pipeline(
        "long_names", destination=destination, dataset_name=postgres_dataset, pipelines_dir=str(tmp_path)
    )
    pipeline.run(resource).raise_on_failed_jobs()

    with pipeline.sql_client() as client:
        found = client.execute_sql(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name like 'accounts%%' and column_name not like '\\_dlt%%'",
            postgres_dataset,
        )
        numbers = {(table, column): kind for table, column, kind in found if column != "id"}
        sums = [client.execute_sql(f"select sum({c}) from {postgres_dataset}.{t}")[0][0] for t, c in numbers]
    assert list(numbers.values()) == ["double precision", "double precision"]  # no BIGINT, no variant
    lengths = sorted((len(table), len(column)) for table, column in numbers)
    assert lengths == [(len("accounts"), 63), (63, 63)]  # both columns and the child table shortened
    assert sums == [5.5, 5.5]
