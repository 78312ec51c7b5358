"""DuckDB's memory limit: small for the usual load, raised for a load whose rows need more.

`.dlt/config.toml` bounds DuckDB's memory so that a load of a million narrow leads stays lean (DuckDB
otherwise caches up to 80% of RAM). But DuckDB reads a parquet row group whole and works on vectors of 2,048
rows, so what a load needs grows with the width of its rows, not only their number: emails with 40 KB HTML
bodies ran out of 128 MB at 6,000 rows. Such a load is retried with the limit doubled, up to
`DUCKDB_MAX_MEMORY_FRACTION` of this machine's memory; the next load starts from the configured limit again.
"""

import os
import re

from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from . import DUCKDB_MAX_MEMORY_FRACTION

# how DuckDB words running out of its limit: a failed allocation, or a block it cannot pin on commit
OUT_OF_MEMORY = ("Out of Memory Error", "failed to pin block")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?i?b)", re.IGNORECASE)
# DuckDB's units: KB, MB, GB are powers of 1000, KiB, MiB, GiB of 1024
_UNIT_BYTES = {
    **{unit: 1000**power for power, unit in enumerate(("b", "kb", "mb", "gb", "tb"))},
    **{unit: 1024**power for power, unit in enumerate(("kib", "mib", "gib", "tib"), start=1)},
}


def ran_out_of_memory(error: BaseException) -> bool:
    """Whether DuckDB's memory limit is what failed the load (anywhere in the exception's chain)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if any(marker in str(current) for marker in OUT_OF_MEMORY):
            return True
        current = current.__cause__ or current.__context__
    return False


def with_doubled_limit(credentials: DuckDbCredentials) -> DuckDbCredentials | None:
    """The same credentials with twice the memory limit, or None when that would pass the ceiling (or no
    limit is configured, so DuckDB's own default applies)."""
    settings = dict(credentials.global_config or {})
    current = _bytes(str(settings.get("memory_limit", "")))
    if current is None:
        return None
    doubled = 2 * current
    ceiling = DUCKDB_MAX_MEMORY_FRACTION * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if doubled > ceiling:
        return None
    settings["memory_limit"] = f"{doubled // 10**6}MB"
    credentials.global_config = settings
    return credentials


def limit_of(credentials: DuckDbCredentials) -> str:
    return str((credentials.global_config or {}).get("memory_limit", "DuckDB's default"))


def _bytes(size: str) -> int | None:
    match = _SIZE.fullmatch(size.strip())
    if not match:
        return None
    return int(float(match.group(1)) * _UNIT_BYTES[match.group(2).lower()])
