"""Postgres loaded with COPY: dlt writes parquet load files, as for DuckDB, and each is streamed into its
table as CSV through `COPY ... FROM STDIN`.

dlt's own csv path cannot tell an empty string from NULL: its dict writer writes both as `""` and its COPY
forces `""` to NULL in every nullable column. Arrow's CSV writer keeps them apart (NULL unquoted and empty,
the empty string quoted), so the COPY here reads unquoted empties as NULL and nothing else. Parquet load files
come from dict and Arrow items alike, so one writer serves both.
"""

import io
import queue
import threading
from typing import Any

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
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


class _CsvStream(io.RawIOBase):
    """The rows of a parquet file as one CSV byte stream for COPY to read. A thread writes the CSV a batch
    ahead (Arrow's writer runs without the GIL), so making the text overlaps with Postgres parsing it."""

    def __init__(self, parquet: pq.ParquetFile):
        self._chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=CSV_CHUNKS_AHEAD)
        self._pending = memoryview(b"")
        self._done = False
        self._writer = threading.Thread(target=self._write, args=(parquet,), daemon=True)
        self._writer.start()

    def _write(self, parquet: pq.ParquetFile) -> None:
        try:
            for batch in parquet.iter_batches(batch_size=COPY_BATCH_ROWS):
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
    """One parquet load file into its (staging) table in one COPY, in one transaction."""

    def run(self) -> None:
        sql_client = self._job_client.sql_client
        parquet = pq.ParquetFile(self._file_path)
        columns = ", ".join(sql_client.escape_column_name(name) for name in parquet.schema_arrow.names)
        table = sql_client.make_qualified_table_name(self.load_table_name)
        copy = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT CSV, NULL '')"
        stream = io.BufferedReader(_CsvStream(parquet))
        with sql_client.begin_transaction(), sql_client.native_connection.cursor() as cursor:
            cursor.copy_expert(copy, stream, size=1 << 20)


class CopyingPostgresClient(PostgresClient):
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
