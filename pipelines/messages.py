"""Errors as one line for people and for the `sync_runs` table: our own error out of dlt's wrapping, with
every configured API key scrubbed, whatever produced the text; and no dlt line that misleads."""

import enum
import logging
import os

import dlt

from sources.instantly import settings
from sources.instantly.errors import InstantlyError

from .workspaces import WORKSPACES_KEY


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # the sync failed (API fault that did not clear, destination error, ...)
    CONFIG = 2  # bad flags or configuration, found before any data moved
    AUTH = 3  # 401/402/403: the key, plan or scope must be fixed
    LOCKED = 4  # another sync holds the lock
    PARTIAL = 5  # the sync finished, but some resources were skipped (the key lacks their scope)
    STALE = 6  # `check`: a resource's last successful sync is older than --max-age (or none is recorded)
    RESOURCES_FAILED = 7  # some resources failed (the others loaded); the next run resumes them
    INTERRUPTED = 130


def exit_code(exc: BaseException) -> int:
    cause = find_cause(exc)
    return cause.exit_code if isinstance(cause, InstantlyError) else 1


def describe_error(exc: BaseException) -> str:
    cause = find_cause(exc)
    kind = "" if isinstance(cause, InstantlyError) else f"{type(cause).__name__}: "
    return kind + scrub(" ".join(str(cause).split()))


def find_cause(exc: BaseException) -> BaseException:
    """The innermost error of ours in dlt's wrapping chain, else the original."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, InstantlyError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return exc


def scrub(text: str) -> str:
    for secret in _secret_values():
        text = text.replace(secret, "***")
    return text


def _secret_values() -> list[str]:
    values = [
        os.environ.get(name, "") for name in ("SOURCES__INSTANTLY__API_KEY", settings.WEBHOOK_SECRET_ENV)
    ]
    for key in ("sources.instantly.api_key", "sources.instantly.webhooks.secret"):
        try:
            values.append(str(dlt.secrets.get(key) or ""))
        except Exception:
            pass
    try:
        workspaces = dlt.secrets.get(WORKSPACES_KEY, dict) or {}
        values += [str(w.get("api_key") or "") for w in workspaces.values() if isinstance(w, dict)]
    except Exception:
        pass
    return [v for v in values if len(v) >= 4]


class _PoolShutdownFilter(logging.Filter):
    """Drops dlt's pool-shutdown lines (`settings.DLT_POOL_SHUTDOWN_LOG`): after a failed run they say the
    process may hang, which it does not, beside the one line that names the failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(settings.DLT_POOL_SHUTDOWN_LOG)


def quiet_dlt_pool_shutdown() -> None:
    dlt_logger = logging.getLogger(dlt.current.run_context().name)  # the logger dlt writes to stderr
    if not any(isinstance(f, _PoolShutdownFilter) for f in dlt_logger.filters):
        dlt_logger.addFilter(_PoolShutdownFilter())
