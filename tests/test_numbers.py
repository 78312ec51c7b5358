"""Numbers stay whole: every spec `number` (but enum codes) lands in one double column, nested ones and those
of child tables included, whatever mix of `3` and `2.5` the API sends.

The simulated workspace mixes whole and fractional numbers in its `number` fields (`World(mixed_numbers=True)`
is the default), so an undeclared column would be typed by whichever value came first.
"""

import pytest

from pipelines.sync import make_pipeline
from sources.instantly import columns

from .conftest import Warehouse

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
