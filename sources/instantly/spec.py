"""The vendored Instantly API v2 OpenAPI document: the one source of truth for paths, item schemas and enums.

The copy in this package is the official spec (``openapi-v2.json``); the source derives column hints from
it and the simulator derives its parameters, bounds and generated items from it.
"""

import functools
import json
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("openapi-v2.json")


@functools.cache
def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def operation(path: str, method: str) -> dict[str, Any]:
    """The operation object for ``method path`` (path as in the spec, e.g. ``/api/v2/leads/list``)."""
    return load_spec()["paths"][path][method.lower()]


def component_schema(name: str) -> dict[str, Any]:
    return load_spec()["components"]["schemas"][name]


def list_item_schema(path: str, method: str, field: str | None = "items") -> dict[str, Any]:
    """The item schema of a list endpoint's ``items`` array (or the array in ``field``; None: the answer is
    the array), with ``$ref`` and ``allOf`` resolved."""
    response = resolve(response_schema(path, method))
    rows = resolve(response["properties"][field]) if field else response
    return resolve(rows["items"])


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` and merge ``allOf`` parts into one object schema."""
    if "$ref" in schema:
        return resolve(component_schema(schema["$ref"].rsplit("/", 1)[-1]))
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in schema["allOf"]:
            part = resolve(part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"].extend(part.get("required", []))
        return merged
    return schema


def query_parameter(path: str, method: str, name: str) -> dict[str, Any] | None:
    for parameter in operation(path, method).get("parameters", []):
        if parameter.get("in") == "query" and parameter.get("name") == name:
            return parameter
    return None


def body_property(path: str, method: str, name: str) -> dict[str, Any] | None:
    body = operation(path, method).get("requestBody", {}).get("content", {}).get("application/json", {})
    return body.get("schema", {}).get("properties", {}).get(name)


def limit_bounds(path: str, method: str) -> tuple[int, int]:
    """The allowed ``limit`` range of a list endpoint, from the query parameter or the JSON body."""
    found = query_parameter(path, method, "limit")
    schema = found["schema"] if found else body_property(path, method, "limit")
    if schema is None:
        raise KeyError(f"{method} {path} takes no limit")
    return int(schema.get("minimum", 1)), int(schema["maximum"])


def response_schema(path: str, method: str) -> dict[str, Any]:
    """The schema of a 200 JSON answer."""
    return operation(path, method)["responses"]["200"]["content"]["application/json"]["schema"]
