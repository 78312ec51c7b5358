"""Postgres loaded with COPY: dlt writes parquet load files, as for DuckDB, and each is streamed into its
table as CSV through `COPY ... FROM STDIN`.

dlt's own csv path cannot tell an empty string from NULL: its dict writer writes both as `""` and its COPY
forces `""` to NULL in every nullable column. Arrow's CSV writer keeps them apart (NULL unquoted and empty,
the empty string quoted), so the COPY here reads unquoted empties as NULL and nothing else. Parquet load files
come from dict and Arrow items alike, so one writer serves both.

One COPY keeps one server process busy while the client mostly waits for it, so a large file bound for a
staging table is copied as `COPY_STREAMS` parts at once, each over a connection of its own, and committed
only once every part is in: a part that fails rolls them all back. (A commit failing between the parts'
commits would leave some rows in staging; the repeat of the job then fails on the staging tables' unique
`_dlt_id`, and the next run restarts the table's load from empty staging tables, `pipelines.resume`.)
"""

import io
import logging
import queue
import threading
from collections.abc import Sequence
from contextlib import ExitStack, closing
from typing import Any

import psycopg2
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from dlt.common.destination import DestinationCapabilitiesContext
from dlt.common.destination.client import HasFollowupJobs, LoadJob, PreparedTableSchema, RunnableLoadJob
from dlt.common.storages.load_storage import ParsedLoadJobFileName
from dlt.destinations.impl.postgres.factory import PostgresTypeMapper
from dlt.destinations.impl.postgres.factory import postgres as dlt_postgres
from dlt.destinations.impl.postgres.postgres import PostgresClient

# rows turned into CSV at a time: a few MB of text for leads, while COPY streams it
COPY_BATCH_ROWS = 10_000
CSV_CHUNKS_AHEAD = 2
# a file bound for a staging table with at least this many rows (and as many row groups) is copied in
# this many parts at once
PARALLEL_COPY_MIN_ROWS = 50_000
COPY_STREAMS = 2
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
logger = logging.getLogger(__name__)


class _CsvStream(io.RawIOBase):
    """The rows of a parquet file as one CSV byte stream for COPY to read. A thread writes the CSV a batch
    ahead (Arrow's writer runs without the GIL), so making the text overlaps with Postgres parsing it."""

    def __init__(self, path: str, row_groups: Sequence[int] | None = None):
        self._chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=CSV_CHUNKS_AHEAD)
        self._pending = memoryview(b"")
        self._done = False
        self._writer = threading.Thread(target=self._write, args=(path, row_groups), daemon=True)
        self._writer.start()

    def _write(self, path: str, row_groups: Sequence[int] | None) -> None:
        try:
            parquet = pq.ParquetFile(path)  # one reader per stream: a reader is not shared across threads
            for batch in parquet.iter_batches(batch_size=COPY_BATCH_ROWS, row_groups=row_groups):
                batch = _utc_wall_clock(batch)
                sink = io.BytesIO()
                pa_csv.write_csv(batch, sink, write_options=_CSV_OPTIONS)
                self._chunks.put(sink.getvalue())
            self._chunks.put(None)
        except BaseException as exc:  # handed to the reader, which raises it inside the COPY
            self._chunks.put(exc)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            if self._done:
                return 0
            chunk = self._chunks.get()
            if isinstance(chunk, BaseException):
                raise chunk
            if chunk is None:
                self._done = True
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class ParquetCopyJob(RunnableLoadJob, HasFollowupJobs):
    """One parquet load file into its (staging) table in one transaction: one COPY, or for a large file
    bound for staging, `COPY_STREAMS` at once."""

    def run(self) -> None:
        sql_client = self._job_client.sql_client
        metadata = pq.ParquetFile(self._file_path).metadata
        columns = ", ".join(
            sql_client.escape_column_name(name) for name in metadata.schema.to_arrow_schema().names
        )
        table = sql_client.make_qualified_table_name(self.load_table_name)
        copy = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT CSV, NULL '')"
        parts = self._parts(metadata)
        with sql_client.begin_transaction(), sql_client.native_connection.cursor() as cursor:
            if len(parts) == 1 or not self._copy_in_parts(cursor, copy, parts):
                _copy(cursor, copy, self._file_path, None)

    def _copy_in_parts(self, cursor: Any, copy: str, parts: list[list[int]]) -> bool:
        """The first part on the job's cursor, each other on a connection of its own, committed once all are
        in; False, with nothing copied, when the server refuses another connection."""
        with ExitStack() as others:
            connections = self._connect_others(others, len(parts) - 1)
            if not connections:
                return False
            threads = [
                _CopyThread(connection, copy, self._file_path, part)
                for connection, part in zip(connections, parts[1:], strict=True)
            ]
            try:
                _copy(cursor, copy, self._file_path, parts[0])
            finally:
                for thread in threads:
                    thread.join()
            for thread in threads:
                if thread.error is not None:
                    raise thread.error
            for connection in connections:  # a part that failed raised above: nothing commits
                connection.commit()
        return True

    def _parts(self, metadata: Any) -> list[list[int] | None]:
        """The row groups each COPY streams: all in one, or split in `COPY_STREAMS` for a large file bound
        for staging (a copy straight into a final table stays whole: a resumed load finds it by load id)."""
        groups = metadata.num_row_groups
        large = metadata.num_rows >= PARALLEL_COPY_MIN_ROWS and groups >= COPY_STREAMS
        if not large or not self._job_client.should_load_data_to_staging_dataset(self.load_table_name):
            return [None]
        return [list(range(start, groups, COPY_STREAMS)) for start in range(COPY_STREAMS)]

    def _connect_others(self, stack: ExitStack, count: int) -> list[Any]:
        """`count` more connections, closed with `stack`; none when the server refuses one (its
        `max_connections` reached, say): the file is then copied in one stream, as a smaller one is."""
        credentials = self._job_client.config.credentials
        connections = []
        try:
            for _ in range(count):
                connection = psycopg2.connect(
                    dsn=credentials.to_native_representation(), connect_timeout=credentials.connect_timeout
                )
                connections.append(stack.enter_context(closing(connection)))
        except psycopg2.OperationalError as exc:
            logger.warning(
                "instantly-sync: copying %s in one stream: no second connection to Postgres (%s)",
                self.load_table_name,
                " ".join(str(exc).split()),
            )
            return []
        return connections


class _CopyThread(threading.Thread):
    """One part of a file, copied over its own connection in a transaction its caller commits."""

    def __init__(self, connection: Any, copy: str, path: str, row_groups: list[int]):
        super().__init__(daemon=True)
        self.error: BaseException | None = None
        self._arguments = (connection, copy, path, row_groups)
        self.start()

    def run(self) -> None:
        connection, copy, path, row_groups = self._arguments
        try:
            with connection.cursor() as cursor:
                _copy(cursor, copy, path, row_groups)
        except BaseException as exc:  # raised by the job, in its own thread
            self.error = exc


def _copy(cursor: Any, copy: str, path: str, row_groups: list[int] | None) -> None:
    """Copy the file's `row_groups` (None: all) in the cursor's transaction, its times read as UTC."""
    cursor.execute("SET LOCAL TIME ZONE 'UTC'")
    cursor.copy_expert(copy, io.BufferedReader(_CsvStream(path, row_groups)), size=1 << 20)


def _utc_wall_clock(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Zone-aware timestamps as their UTC wall-clock time, which the COPY reads in UTC (`_copy`): Arrow
    writes a zone-aware timestamp a dozen times slower, and these were most of a leads file's CSV time."""
    if not any(pa.types.is_timestamp(field.type) and field.type.tz for field in batch.schema):
        return batch
    columns = [
        column.cast(pa.timestamp(column.type.unit))
        if pa.types.is_timestamp(column.type) and column.type.tz
        else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


class CopyingPostgresClient(PostgresClient):
    def _make_create_table(self, qualified_name: str, table: PreparedTableSchema) -> str:
        """Staging tables are UNLOGGED: what a load copies into them skips the write-ahead log, and the
        server empties them after a crash, when a resumed load copies every file again anyway
        (`pipelines.resume`)."""
        statement = super()._make_create_table(qualified_name, table)
        if self.in_staging_dataset_mode:
            return statement.replace("CREATE TABLE", "CREATE UNLOGGED TABLE", 1)
        return statement

    def create_load_job(
        self, table: PreparedTableSchema, file_path: str, load_id: str, restore: bool = False
    ) -> LoadJob:
        if ParsedLoadJobFileName.parse(file_path).file_format == "parquet":
            return ParquetCopyJob(file_path)
        return super().create_load_job(table, file_path, load_id, restore)


class _JsonbTypeMapper(PostgresTypeMapper):
    """JSON stays `jsonb` as with every other load file format (dlt makes it `json` for parquet files, which
    only its ADBC path needs)."""

    def to_destination_type(self, column: Any, table: PreparedTableSchema) -> str:
        if column["data_type"] == "json":
            return "jsonb"
        return super().to_destination_type(column, table)


class postgres(dlt_postgres):  # noqa: N801 (dlt names destination factories in lower case)
    """dlt's Postgres destination, with parquet load files copied in as CSV (no ADBC driver needed)."""

    def _raw_capabilities(self) -> DestinationCapabilitiesContext:
        caps = super()._raw_capabilities()
        caps.loader_file_format_selector = None  # dlt's drops parquet unless an ADBC driver is installed
        caps.type_mapper = _JsonbTypeMapper
        return caps

    @property
    def client_class(self) -> type[PostgresClient]:
        return CopyingPostgresClient
