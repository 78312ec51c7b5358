"""Destination factories: DuckDB (a local file, the default) and Postgres (dlt credentials)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination import Destination
from dlt.destinations.exceptions import DestinationConnectionError

from sources.instantly.errors import ConfigError, InstantlyError

from . import duckdb_vacuum, postgres_copy

DEFAULT_DUCKDB_PATH = "instantly_warehouse.duckdb"
DEFAULT_DATASET = "instantly"
DESTINATIONS = ("duckdb", "postgres")
# Parquet load files for both: DuckDB's default (insert_values) needs GBs of memory for 100k+ rows, and
# Postgres copies parquet in as CSV (`postgres_copy`), several times faster than insert statements.
LOADER_FILE_FORMATS = {"duckdb": "parquet", "postgres": "parquet"}
# DuckDB takes identifiers of any length, so dlt never shortens its table names; but each table's load file is
# named after the table, and a list nested under long keys would make a name no file system takes (255 bytes).
# Longer names are shortened with a hash, as dlt does for Postgres at 63.
DUCKDB_MAX_TABLE_NAME = 200
# A DuckDB load that runs out of its configured memory limit is retried with the limit doubled, up to this
# fraction of the machine's memory (`duckdb_memory`).
DUCKDB_MAX_MEMORY_FRACTION = 0.5


@dataclass(frozen=True)
class Target:
    """Where a sync writes: a destination kind, its location, and the dataset (schema) name."""

    destination: str = "duckdb"
    dataset: str = DEFAULT_DATASET
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    postgres_credentials: str | None = None  # None: dlt's config (DESTINATION__POSTGRES__CREDENTIALS)
    workspace: str | None = None  # one of several configured workspaces: its own pipeline and state

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
        name = f"instantly_{self.destination}_{self.dataset}"
        return f"{name}__{self.workspace}" if self.workspace else name

    def factory(self) -> Destination:
        if self.destination == "duckdb":
            return dlt.destinations.duckdb(
                credentials=str(Path(self.duckdb_path).absolute()),
                max_identifier_length=DUCKDB_MAX_TABLE_NAME,
            )
        if self.postgres_credentials:
            return postgres_copy.postgres(credentials=self.postgres_credentials)
        return postgres_copy.postgres()

    def credentials(self) -> Any:
        """The credentials dlt resolves for this target (from config unless given), settings included."""
        factory = self.factory()
        return factory.configuration(factory.spec()._bind_dataset_name(dataset_name=self.dataset)).credentials

    def postgres_dsn(self) -> str:
        """The Postgres connection string dlt resolves for this target (from config unless given)."""
        return self.credentials().to_native_representation()

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


@contextmanager
def opening(target: Target) -> Iterator[None]:
    """Turn what goes wrong while connecting (credentials missing, database unreachable or absent) into one
    configuration error (exit 2) that names what to fix."""
    destination = target.destination
    try:
        yield
    except ConfigFieldMissingException as exc:
        raise ConfigError(
            f"missing configuration for the {destination} destination: {', '.join(exc.fields)}. Set "
            f"DESTINATION__{destination.upper()}__CREDENTIALS (or [destination.{destination}.credentials] "
            "in .dlt/secrets.toml)"
        ) from None
    except InstantlyError:
        raise
    except Exception as exc:  # the driver's own words say best what is wrong (refused, no such db, ...)
        reason = exc.inner_exc if isinstance(exc, DestinationConnectionError) else exc
        text = " ".join(str(reason).split()) or type(reason).__name__
        raise ConfigError(f"cannot open the {destination} destination {target.location}: {text}") from None


@contextmanager
def duckdb_open(target: Target) -> Iterator[None]:
    """A DuckDB target's database open for the whole block, its checkpoints batching the compaction of row
    groups (`duckdb_vacuum`).

    dlt opens and closes the file per client and per load job, and the close that leaves it without
    connections checkpoints the file: several times per load, each slower as the file grows. Connections
    to an open file share its instance, so within the block they open and close for nothing, and the end of
    the block checkpoints once. The connection is dlt's own (`borrow_conn`): it opens the file with the
    settings dlt would."""
    with opening(target):
        credentials = target.credentials()
        connection = credentials.conn_pool.borrow_conn()
    try:
        before = duckdb_vacuum.defer(connection)
        yield
        duckdb_vacuum.vacuum_if_fragmented(connection, before)
    finally:
        credentials.conn_pool.return_conn(connection)


def _looks_like_duckdb(path: Path) -> bool:
    if path.stat().st_size == 0:
        return True
    with path.open("rb") as handle:
        header = handle.read(16)
    return header[8:12] == b"DUCK"


def dataset_columns(client: Any) -> dict[str, set[str]]:
    """Each table of the client's dataset (as the database has it, whatever dlt's schema says) and its
    columns; nothing when the dataset does not exist yet."""
    if not client.has_dataset():
        return {}
    rows = client.execute_sql(
        "select table_name, column_name from information_schema.columns where table_schema = %s",
        client.dataset_name,
    )
    columns: dict[str, set[str]] = {}
    for table, column in rows or []:
        columns.setdefault(table, set()).add(column)
    return columns
