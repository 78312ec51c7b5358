"""An empty string and NULL stay apart in the warehouse, whichever way rows reach it.

Postgres loads copy CSV text, where the two differ only by quotes (`destinations.postgres_copy`), and rows
are written by two writers: leads pages go to dlt as Arrow tables, other resources and child tables as dicts.
"""

import pytest


def _nickname(item: dict) -> str | None:
    """'' for a third of the items, NULL for a third, a name for the rest (by the id's last character)."""
    return ("", None, "Sam")[int(item["id"][-1], 16) % 3]


def _expected(items: list[dict]) -> dict[str, int]:
    values = [_nickname(item) for item in items]
    return {"empty": values.count(""), "null": values.count(None), "named": values.count("Sam")}


def _loaded(warehouse, table: str, column: str) -> dict[str, int]:
    (row,) = warehouse.query(
        f"select count(*) filter (where {column} = ''), count(*) filter (where {column} is null), "
        f"count(*) filter (where {column} = 'Sam') from {{ds}}.{table}"
    )
    return dict(zip(("empty", "null", "named"), row, strict=True))


@pytest.mark.parametrize("resource", ["leads", "lead_lists"])  # the Arrow writer, the dict writer
def test_empty_strings_and_nulls_load_as_they_came(warehouse, world, resource):
    world.add_field(resource, "nickname", _nickname)
    warehouse.sync(resources=[resource])
    expected = _expected(world.items(resource))
    assert expected["empty"] and expected["null"] and expected["named"]
    assert _loaded(warehouse, resource, "nickname") == expected


def test_empty_strings_and_nulls_in_a_child_table_load_as_they_came(warehouse, world):
    world.add_field("leads", "aliases", lambda item: [{"name": _nickname(item)}])
    warehouse.sync(resources=["leads"])
    expected = _expected(world.items("leads"))
    assert expected["empty"] and expected["null"]
    assert _loaded(warehouse, "leads__aliases", "name") == expected
