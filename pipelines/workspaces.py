"""The workspaces one command syncs: the configured mapping of name -> {api_key, base_url}, or the one key.

An agency configures its workspaces in .dlt/secrets.toml

    [sources.instantly.workspaces.acme]
    api_key = "..."
    base_url = "https://api.instantly.ai"   # optional

or as JSON in SOURCES__INSTANTLY__WORKSPACES ('{"acme": {"api_key": "..."}}'). Without a mapping, the
command syncs the one workspace of `sources.instantly.api_key`, as it always did.
"""

import re
from dataclasses import dataclass, field
from typing import Any

import dlt

from sources.instantly.errors import ConfigError

WORKSPACES_KEY = "sources.instantly.workspaces"
# names become part of pipeline and dataset names
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_FIELDS = {"api_key", "base_url"}


@dataclass(frozen=True)
class Workspace:
    """One workspace to sync. `name` None: the single workspace of the plain configuration."""

    name: str | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None

    @property
    def label(self) -> str:
        return self.name or "default"


SINGLE = Workspace()


def configured_workspaces(only: list[str] | None = None) -> list[Workspace]:
    """The configured mapping (restricted to `only`), or the single default workspace when none is set."""
    try:
        mapping = dlt.secrets.get(WORKSPACES_KEY, dict)
    except Exception:  # dlt could not coerce the value: SOURCES__INSTANTLY__WORKSPACES is not a JSON object
        raise ConfigError(
            "SOURCES__INSTANTLY__WORKSPACES must be a JSON object of name -> "
            '{"api_key": "...", "base_url": "..."} (base_url optional)'
        ) from None
    workspaces = parse_workspaces(mapping or {})
    if only:
        unknown = sorted(set(only) - {w.name for w in workspaces})
        if unknown:
            known = ", ".join(w.name for w in workspaces) or "none are configured"
            raise ConfigError(f"unknown workspace(s) {', '.join(unknown)}; configured: {known}")
        workspaces = [w for w in workspaces if w.name in only]
    return workspaces or [SINGLE]


def parse_workspaces(mapping: dict[str, Any]) -> list[Workspace]:
    workspaces = []
    for name, settings in mapping.items():
        where = f"[{WORKSPACES_KEY}.{name}]"
        if not _NAME.fullmatch(str(name)):
            raise ConfigError(
                f"workspace name {name!r} must be lowercase letters, digits and _ (starting with a letter, "
                "at most 40): it becomes part of pipeline and dataset names"
            )
        if not isinstance(settings, dict):
            raise ConfigError(f"{where} must be a table with api_key (and optionally base_url)")
        extra = sorted(set(settings) - _FIELDS)
        if extra:
            raise ConfigError(f"{where} has unknown key(s) {', '.join(extra)}; allowed: api_key, base_url")
        api_key = settings.get("api_key")
        if not isinstance(api_key, str) or not api_key.strip():
            raise ConfigError(f"{where} has no api_key")
        base_url = settings.get("base_url")
        if base_url is not None and not isinstance(base_url, str):
            raise ConfigError(f"{where} base_url must be a string")
        workspaces.append(Workspace(name=name, api_key=api_key.strip(), base_url=base_url))
    return workspaces
