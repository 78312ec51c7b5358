"""The API key never lands in state, traces, load packages, the warehouse, logs or the output.

Files are searched as what they hold, not only as bytes: load packages are gzip or parquet (compressed
columns), DuckDB compresses its strings, and dlt stores the pipeline state in the warehouse zlib-compressed.
"""

import gzip
import random
from pathlib import Path

import duckdb
import psycopg2
import pyarrow.parquet
import pytest
from dlt.common.versioned_state import decompress_state

from pipelines.messages import ExitCode
from sources.instantly.errors import ResourcesFailed
from sources.simulator import Fault, Simulator

from .conftest import POSTGRES_URL
from .killing import CORE_RESOURCES, SyncProcess, cli_env, kill_during, run_args, run_to_end

KEY = "sk-live-9b8f7e6d5c4b3a2918273645"


@pytest.fixture
def simulator(world):
    with Simulator(world, api_key=KEY) as sim:
        yield sim


def _duckdb_text(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as connection:
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        return "\n".join(_rows_text(connection.execute(f'select * from "{s}"."{t}"'), t) for s, t in tables)


def _rows_text(cursor, table: str) -> str:
    rows = cursor.fetchall()
    text = repr(rows)
    if table == "_dlt_pipeline_state":
        names = [d[0] for d in cursor.description]
        text += repr([decompress_state(row[names.index("state")]) for row in rows])
    return text


def _file_text(path: Path) -> str:
    if path.suffix == ".duckdb":
        return _duckdb_text(path)
    if path.suffix == ".parquet":
        return repr(pyarrow.parquet.read_table(path).to_pylist())
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


def files_holding(root: Path, secret: str) -> list[Path]:
    """Every file under `root` whose contents, decoded as above, hold `secret`."""
    return [path for path in sorted(root.rglob("*")) if path.is_file() and secret in _file_text(path)]


def test_key_is_in_no_file_the_pipeline_wrote_after_good_and_failed_runs(duckdb_warehouse, tmp_path, capfd):
    duckdb_warehouse.sync()
    duckdb_warehouse.source_args["base_url"] = "http://127.0.0.1:9"  # nothing listens: the run fails
    with pytest.raises(ResourcesFailed):
        duckdb_warehouse.sync(max_attempts=1)
    captured = capfd.readouterr()
    assert files_holding(tmp_path, KEY) == []
    assert KEY not in captured.out + captured.err


def test_search_finds_the_key_where_it_is_compressed(tmp_path):
    """The search itself works: a key inside gzip, parquet, DuckDB and zlib-compressed state is found."""
    (tmp_path / "a.gz").write_bytes(gzip.compress(KEY.encode()))
    pyarrow.parquet.write_table(pyarrow.table({"value": [KEY] * 1000}), tmp_path / "b.parquet")
    with duckdb.connect(str(tmp_path / "c.duckdb")) as connection:
        connection.execute("create table t as select ? || range::varchar as v from range(5000)", [KEY])
    assert [p.name for p in files_holding(tmp_path, KEY)] == ["a.gz", "b.parquet", "c.duckdb"]


def test_key_is_in_no_file_or_output_after_a_crash_a_failed_run_and_a_resumed_run(tmp_path, simulator):
    args = run_args(tmp_path, "--resources", CORE_RESOURCES)
    env = cli_env(simulator, checkpoint_seconds=0.1, max_attempts=2)
    # the second leads page outlasts the checkpoint: the crashed run loads in slices, so it is still
    # running after the first load however fast the machine
    simulator.faults.add(Fault(path="/api/v2/leads/list", kind="slow", delay=0.3, after_requests=1, times=1))
    simulator.faults.add(Fault(kind="slow", delay=0.03))
    crashed = SyncProcess(args, env, tmp_path).start()
    assert kill_during(crashed, "load", simulator, random.Random(3)) is not None
    simulator.faults.clear()  # the slow answers: the first fault that fires wins
    simulator.faults.add(Fault(path="/api/v2/leads/list", kind="status", status=500))
    assert run_to_end(args, env, tmp_path).process.returncode == ExitCode.RESOURCES_FAILED
    simulator.faults.clear()
    assert run_to_end(args, env, tmp_path).process.returncode == 0
    logs = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert logs == ["000.err", "000.out", "001.err", "001.out", "002.err", "002.out"]
    # the pipeline folder, its packages and trace, the DuckDB file, every child's stdout and stderr
    assert files_holding(tmp_path, KEY) == []


def test_key_is_in_no_table_of_the_postgres_dataset(postgres_warehouse, simulator):
    postgres_warehouse.sync(resources=CORE_RESOURCES.split(","))
    dataset = postgres_warehouse.target.dataset
    with psycopg2.connect(POSTGRES_URL) as connection, connection.cursor() as cursor:
        cursor.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in (%s, %s)",
            (dataset, f"{dataset}_staging"),
        )
        dump = []
        for schema, table in cursor.fetchall():
            cursor.execute(f'select * from "{schema}"."{table}"')
            dump.append(_rows_text(cursor, table))
    assert len(dump) > 5
    assert KEY not in "\n".join(dump)
