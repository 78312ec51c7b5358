"""Configuration mistakes: one clear line on stderr and a documented exit code, before any data moves.

(`test_cli.py` covers the missing key, an unknown resource and a DuckDB file named like the dataset.)
Exit codes are `pipelines.cli.ExitCode`: 1 the sync failed, 2 configuration error.
"""

from pathlib import Path

import pytest

from pipelines.cli import ExitCode

from .conftest import require_postgres
from .killing import Reader, SyncProcess, cli_env, run_args, run_to_end

POSTGRES_PASSWORD = "s3cret-pass"


def run(workdir: Path, env: dict[str, str], *extra: str, destination: str = "duckdb") -> SyncProcess:
    return run_to_end(
        run_args(workdir, "--resources", "campaigns,leads", *extra, destination=destination), env, workdir
    )


def assert_one_line(child: SyncProcess, code: int, *phrases: str) -> None:
    assert child.process.returncode == code, child.stderr
    lines = child.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("instantly-sync: error: "), child.stderr
    for phrase in phrases:
        assert phrase in lines[0]


@pytest.mark.parametrize("base_url", ["htp//api.instantly.ai", "api.instantly.ai", "http://"])
def test_a_malformed_base_url_exits_2_naming_the_setting_before_any_request(tmp_path, simulator, base_url):
    env = {**cli_env(simulator), "SOURCES__INSTANTLY__BASE_URL": base_url}
    assert_one_line(run(tmp_path, env), ExitCode.CONFIG, repr(base_url), "SOURCES__INSTANTLY__BASE_URL")
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_an_unreachable_base_url_exits_1_and_records_only_the_failure(tmp_path, simulator):
    env = {**cli_env(simulator, max_attempts=2), "SOURCES__INSTANTLY__BASE_URL": "http://127.0.0.1:9"}
    done = run(tmp_path, env)
    assert_one_line(done, ExitCode.FAILED, "ConnectError", "gave up after 2 attempts")
    assert "/api/v2/" in done.stderr
    warehouse = Reader("duckdb", str(tmp_path / "warehouse.duckdb"))
    assert {t for t in warehouse.tables() if not t.startswith("_dlt")} == {"sync_runs"}
    statuses = warehouse.query("select distinct status, error like '%%ConnectError%%' from {ds}.sync_runs")
    assert statuses == [("failed", True)]


@pytest.mark.parametrize(
    "credentials",
    [
        f"postgresql://loader:{POSTGRES_PASSWORD}@127.0.0.1:5499/instantly",  # nothing listens there
        "postgresql://postgres:trust@127.0.0.1:5432/no_such_database",
        "not a connection string",
    ],
    ids=["unreachable_server", "missing_database", "malformed_credentials"],
)
def test_a_postgres_that_cannot_be_opened_exits_2_before_any_request(tmp_path, simulator, credentials):
    if "5432" in credentials:
        require_postgres()  # the server must answer for "no such database"
    env = {**cli_env(simulator), "DESTINATION__POSTGRES__CREDENTIALS": credentials}
    done = run(tmp_path, env, destination="postgres")
    assert_one_line(done, ExitCode.CONFIG, "cannot open the postgres destination")
    assert POSTGRES_PASSWORD not in done.stderr
    assert simulator.requests == []


def test_missing_postgres_credentials_exit_2_saying_which_setting(tmp_path, simulator):
    env = {k: v for k, v in cli_env(simulator).items() if k != "DESTINATION__POSTGRES__CREDENTIALS"}
    done = run(tmp_path, env, destination="postgres")
    assert_one_line(done, ExitCode.CONFIG, "DESTINATION__POSTGRES__CREDENTIALS")
    assert simulator.requests == []


@pytest.mark.parametrize(
    "content",
    [b"id,name\n1,not a database\n" * 100, b"\x00\x00\x00\x00\x00\x00\x00\x00DUCK" + bytes(range(256)) * 16],
    ids=["a_csv_file", "a_corrupt_duckdb_file"],
)
def test_a_duckdb_file_that_is_not_a_database_exits_2_and_is_left_untouched(tmp_path, simulator, content):
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(content)
    assert_one_line(run(tmp_path, cli_env(simulator)), ExitCode.CONFIG, str(path))
    assert path.read_bytes() == content
    assert simulator.requests == []
