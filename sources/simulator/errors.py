"""The API's error shape: ``{"statusCode": 400, "error": "Bad Request", "message": "..."}``."""

from http import HTTPStatus

import orjson


class ApiError(Exception):
    """An answer with an error status; raised anywhere below the HTTP layer, rendered by the server."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


_REASONS = {413: "Payload Too Large"}
"""Where the API (and the spec's error bodies) words a status differently from ``http.HTTPStatus``."""


def reason(status: int) -> str:
    if status in _REASONS:
        return _REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_body(status: int, message: str) -> bytes:
    return orjson.dumps({"statusCode": status, "error": reason(status), "message": message})
