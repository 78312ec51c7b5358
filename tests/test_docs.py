"""The README's table reference is the endpoint table's: regenerate it when an endpoint changes."""

from pathlib import Path

from sources.instantly.endpoints import RESOURCE_NAMES
from sources.instantly.reference import render

README = Path(__file__).parents[1] / "README.md"


def test_readme_table_reference_matches_the_endpoint_table():
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "run `python -m sources.instantly.reference` to regenerate README.md"


def test_readme_names_every_resource():
    text = README.read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in RESOURCE_NAMES)
