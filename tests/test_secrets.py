"""The API key never lands in state, traces, load packages, the warehouse or the output."""

from pathlib import Path

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.simulator import Simulator

KEY = "sk-live-9b8f7e6d5c4b3a2918273645"


@pytest.fixture
def simulator(world):
    with Simulator(world, api_key=KEY) as sim:
        yield sim


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_key_is_in_no_file_the_pipeline_wrote_after_good_and_failed_runs(duckdb_warehouse, tmp_path, capfd):
    duckdb_warehouse.sync()
    duckdb_warehouse.source_args["base_url"] = "http://127.0.0.1:9"  # nothing listens: the run fails
    with pytest.raises(PipelineStepFailed):
        duckdb_warehouse.sync(max_attempts=1)
    captured = capfd.readouterr()
    assert _files_containing(tmp_path, KEY.encode()) == []
    assert KEY not in captured.out + captured.err
