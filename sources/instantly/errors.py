"""Errors the source raises. Messages name the endpoint and the config key to fix, never the API key."""


class InstantlyError(Exception):
    """Base class: anything the sync reports to the user as one line."""

    exit_code = 1


class ConfigError(InstantlyError):
    """Bad or missing configuration, found before any data moves."""

    exit_code = 2


class ApiError(InstantlyError):
    """The API answered with an error we do not retry (or stopped retrying)."""

    def __init__(self, endpoint: str, status: int | None, detail: str):
        self.endpoint = endpoint
        self.status = status
        self.detail = detail
        prefix = f"HTTP {status} " if status else ""
        super().__init__(f"{prefix}from {endpoint}: {detail}")


class AuthError(ApiError):
    """401/402/403: the key, the plan or the key's scopes do not allow the request."""

    exit_code = 3


class RetriesExhausted(ApiError):
    """A transient fault (429, 5xx, timeout, broken body) did not clear within the retry budget."""


class ResourcesFailed(InstantlyError):
    """Every selected resource failed (each alone, after its retries): the run as a whole failed."""

    def __init__(self, failures: dict[str, str], result: object = None):
        self.failures = failures
        self.result = result  # what the run did commit: their pages before the failures, and cursors
        (first, reason), *others = failures.items()
        more = f" (and {len(others)} more)" if others else ""
        prefix = "every selected resource failed; " if others else ""
        super().__init__(f"{prefix}{first}: {reason}{more}")
