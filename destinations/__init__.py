"""Destination factories: DuckDB (a local file, the default) and Postgres (dlt credentials)."""

from dataclasses import dataclass
from pathlib import Path

import dlt
from dlt.common.destination import Destination

from sources.instantly.errors import ConfigError

DEFAULT_DUCKDB_PATH = "instantly_warehouse.duckdb"
DEFAULT_DATASET = "instantly"
DESTINATIONS = ("duckdb", "postgres")
# DuckDB is fastest and leanest with parquet load files; its default (insert_values) needs GBs of memory for
# 100k+ rows. Postgres loads insert_values statements well (csv would need Arrow input).
LOADER_FILE_FORMATS = {"duckdb": "parquet", "postgres": "insert_values"}
# DuckDB takes identifiers of any length, so dlt never shortens its table names; but each table's load file is
# named after the table, and a list nested under long keys would make a name no file system takes (255 bytes).
# Longer names are shortened with a hash, as dlt does for Postgres at 63.
DUCKDB_MAX_TABLE_NAME = 200


@dataclass(frozen=True)
class Target:
    """Where a sync writes: a destination kind, its location, and the dataset (schema) name."""

    destination: str = "duckdb"
    dataset: str = DEFAULT_DATASET
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    postgres_credentials: str | None = None  # None: dlt's config (DESTINATION__POSTGRES__CREDENTIALS)

    def validate(self) -> None:
        if self.destination not in DESTINATIONS:
            raise ConfigError(
                f"unknown destination {self.destination!r}; choose one of: {', '.join(DESTINATIONS)}"
            )
        if not self.dataset.isidentifier():
            raise ConfigError(
                f"dataset name {self.dataset!r} must be a plain identifier (letters, digits, _)"
            )
        if self.destination == "duckdb":
            path = Path(self.duckdb_path)
            # DuckDB names the catalog after the file: a schema of the same name makes every query ambiguous.
            if path.stem == self.dataset:
                raise ConfigError(
                    f"the DuckDB file {path.name!r} and the dataset {self.dataset!r} share a name, "
                    "which DuckDB cannot resolve; rename the file or choose another --dataset"
                )
            if path.exists() and path.is_file() and not _looks_like_duckdb(path):
                raise ConfigError(f"{path} exists but is not a DuckDB database")

    @property
    def loader_file_format(self) -> str:
        return LOADER_FILE_FORMATS[self.destination]

    @property
    def pipeline_name(self) -> str:
        return f"instantly_{self.destination}_{self.dataset}"

    def factory(self) -> Destination:
        if self.destination == "duckdb":
            return dlt.destinations.duckdb(
                credentials=str(Path(self.duckdb_path).absolute()),
                max_identifier_length=DUCKDB_MAX_TABLE_NAME,
            )
        if self.postgres_credentials:
            return dlt.destinations.postgres(credentials=self.postgres_credentials)
        return dlt.destinations.postgres()

    @property
    def location(self) -> str:
        """Where the data goes, for messages (never the credentials)."""
        if self.destination == "duckdb":
            return str(Path(self.duckdb_path).absolute())
        return f"(dataset {self.dataset})"

    @property
    def lock_name(self) -> str:
        """What two runs must not write at once: the DuckDB file, or the Postgres dataset."""
        if self.destination == "duckdb":
            return str(Path(self.duckdb_path).absolute())
        return f"postgres:{self.dataset}"


def _looks_like_duckdb(path: Path) -> bool:
    if path.stat().st_size == 0:
        return True
    with path.open("rb") as handle:
        header = handle.read(16)
    return header[8:12] == b"DUCK"
