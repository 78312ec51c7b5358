"""Request parameters checked and coerced against the spec, with the API's (Fastify/ajv) messages.

Query strings are coerced the way the API does (``"10"`` -> 10, ``"true"`` -> True); a parameter given
more than once arrives as a list, which only array parameters accept; a JSON body's declared properties
are checked the same way. Required query parameters must be present. Parameters the spec does not
declare pass through untouched and are ignored by the simulator, as by the API.
"""

import functools
import math
import re
from typing import Any

from sources.instantly import spec

from .errors import ApiError

_MISSING = object()


@functools.cache
def _query_schemas(path: str, method: str) -> dict[str, dict[str, Any]]:
    parameters = spec.operation(path, method).get("parameters", [])
    return {p["name"]: p.get("schema", {}) for p in parameters if p.get("in") == "query"}


@functools.cache
def _body_schemas(path: str, method: str) -> dict[str, dict[str, Any]]:
    body = spec.operation(path, method).get("requestBody", {}).get("content", {}).get("application/json", {})
    return dict(body.get("schema", {}).get("properties", {}))


@functools.cache
def _required_query(path: str, method: str) -> tuple[str, ...]:
    parameters = spec.operation(path, method).get("parameters", [])
    return tuple(p["name"] for p in parameters if p.get("in") == "query" and p.get("required"))


def query_params(path: str, method: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The query string's parameters, declared ones coerced to their spec types (a repeated
    parameter is a list of strings)."""
    for name in _required_query(path, method):
        if name not in raw:
            raise ApiError(400, f"querystring must have required property '{name}'")
    schemas = _query_schemas(path, method)
    return {
        name: _check("querystring", name, value, schemas[name]) if name in schemas else value
        for name, value in raw.items()
    }


def body_params(path: str, method: str, body: Any) -> dict[str, Any]:
    """The JSON body's properties, declared ones checked against their spec types."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "body must be object")
    schemas = _body_schemas(path, method)
    return {
        name: _check("body", name, value, schemas[name]) if name in schemas else value
        for name, value in body.items()
    }


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        return []
    return list(kind) if isinstance(kind, list) else [kind]


def _check(where: str, name: str, value: Any, schema: dict[str, Any]) -> Any:
    label = f"{where}/{name}"
    kinds = _types(schema)
    if value is None and ("null" in kinds or not kinds):
        return None
    if kinds:
        value = _coerce(label, value, [k for k in kinds if k != "null"] or kinds)
    if "enum" in schema and value not in schema["enum"]:
        raise ApiError(400, f"{label} must be equal to one of the allowed values")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise ApiError(400, f"{label} must be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise ApiError(400, f"{label} must be <= {schema['maximum']}")
    return value


def _coerce(label: str, value: Any, kinds: list[str]) -> Any:
    for kind in kinds:
        converted = _convert(value, kind)
        if converted is not _MISSING:
            return converted
    raise ApiError(400, f"{label} must be {kinds[0]}")


def _convert(value: Any, kind: str) -> Any:
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            return _MISSING
        if isinstance(value, str):
            try:
                value = float(value.strip()) if value.strip() else _MISSING
            except ValueError:
                return _MISSING
            if value is _MISSING:
                return _MISSING
        if not isinstance(value, (int, float)) or isinstance(value, float) and not math.isfinite(value):
            return _MISSING
        if float(value).is_integer():
            return int(value)
        return _MISSING if kind == "integer" else value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False, "1": True, "0": False}.get(str(value).lower(), _MISSING)
    if kind == "string":
        return (
            value if isinstance(value, str) else (str(value) if isinstance(value, (int, float)) else _MISSING)
        )
    if kind == "array":
        if isinstance(value, list):
            return value
        return [value] if isinstance(value, str) else _MISSING
    if kind == "object":
        return value if isinstance(value, dict) else _MISSING
    return value


def write_body(path: str, method: str, body: Any) -> dict[str, Any]:
    """A create or update body checked as the API's schema validation checks it: required and unknown
    properties, at least ``minProperties``, each declared property's type, enum and pattern, and the type
    of an object's free-form values (``headers``)."""
    schema = spec.operation(path, method)["requestBody"]["content"]["application/json"]["schema"]
    if not isinstance(body, dict):
        raise ApiError(400, "body must be object")
    for name in schema.get("required", ()):
        if name not in body:
            raise ApiError(400, f"body must have required property '{name}'")
    properties = schema.get("properties", {})
    if schema.get("additionalProperties") is False and set(body) - set(properties):
        raise ApiError(400, "body must NOT have additional properties")
    fewest = schema.get("minProperties", 0)
    if len(body) < fewest:
        raise ApiError(400, f"body must NOT have fewer than {fewest} properties")
    checked = {}
    for name, value in body.items():
        prop = properties[name]
        value = checked[name] = _check("body", name, value, prop)
        if isinstance(value, str) and "pattern" in prop and not re.search(prop["pattern"], value):
            raise ApiError(400, f'body/{name} must match pattern "{prop["pattern"]}"')
        values = prop.get("additionalProperties")
        if isinstance(value, dict) and isinstance(values, dict):
            checked[name] = {key: _check("body", f"{name}/{key}", v, values) for key, v in value.items()}
    return checked
