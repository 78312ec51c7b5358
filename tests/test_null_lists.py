"""A list the API sends as null means no child rows, as an empty one does: its item loads, its child table
holds the lists that came, and no root column is left that dlt can never type (it would warn every run)."""

import logging

import pytest

# (table, list field): the spec's nullable lists of scalars
NULLABLE_LISTS = [("workspace_members", "permissions"), ("inbox_placement_tests", "tags")]


def _null_or_two(item: dict) -> list[str] | None:
    """Null for about half the items (by the id's last character), two values for the others."""
    return None if int(item["id"][-1], 16) % 2 else [f"{item['id']}-a", f"{item['id']}-b"]


@pytest.fixture(params=NULLABLE_LISTS, ids=lambda pair: pair[0])
def nullable_list(request, world) -> tuple[str, str]:
    table, field = request.param
    world.add_field(table, field, _null_or_two)
    assert {item[field] is None for item in world.items(table)} == {True, False}  # both kinds are served
    return table, field


def test_a_null_list_loads_its_item_with_no_child_rows_and_the_others_with_theirs(
    warehouse, world, nullable_list
):
    table, field = nullable_list
    warehouse.sync(resources=[table])
    items = world.items(table)
    assert warehouse.keys(table) == sorted(item["id"] for item in items)
    loaded = warehouse.query(
        f"select p.id, c.value from {{ds}}.{table}__{field} c "
        f"join {{ds}}.{table} p on c._dlt_parent_id = p._dlt_id"
    )
    assert sorted(loaded) == sorted((item["id"], value) for item in items for value in item[field] or [])


def test_a_null_list_leaves_no_column_dlt_warns_it_cannot_type(warehouse, nullable_list, caplog):
    table, _ = nullable_list
    with caplog.at_level(logging.WARNING, logger="dlt"):
        warehouse.sync(resources=[table])
    assert [r.message for r in caplog.records if "did not receive any data" in r.getMessage()] == []
