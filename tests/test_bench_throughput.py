"""The throughput bench's report: the Arrow share as the sync counts it, and the data sets side by side."""

from types import SimpleNamespace

from bench import throughput


def _figures(rows: int, seconds: float, **extra) -> dict:
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": 100.0, **extra}


def test_the_arrow_share_is_read_from_the_sync_s_counters_and_is_n_a_without_them():
    counted = throughput._sync_figures(
        SimpleNamespace(rows_kept=10, requests=1, arrow_batches=19, dict_batches=1)
    )
    uncounted = throughput._sync_figures(SimpleNamespace(rows_kept=10, requests=1))
    assert throughput._arrow_share(counted) == "95% (19 of 20)"
    assert uncounted["arrow_batches"] is None
    assert throughput._arrow_share(uncounted) == "n/a"


def test_both_data_sets_are_printed_side_by_side_with_the_ratios(capsys):
    results = {
        "clean": {
            throughput.LOWER_BOUND: _figures(1000, 1.0),
            throughput.PEER_PARQUET: _figures(1000, 4.0),
            "project": _figures(1000, 2.0, arrow_batches=2, dict_batches=0),
        },
        "messy": {
            throughput.LOWER_BOUND: _figures(1000, 2.0),
            throughput.PEER_PARQUET: _figures(1000, 8.0),
            "project": _figures(1000, 10.0),
        },
    }
    throughput._print_side_by_side(results)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["clean", "messy"]
    row = {line[:44].strip(): line[44:].split() for line in lines[2:]}
    assert row["project"] == ["500", "rows/s", "100", "rows/s"]
    assert row[f"project / {throughput.LOWER_BOUND}"] == ["0.50x", "0.20x"]
    assert row[f"project / {throughput.PEER_PARQUET}"] == ["2.00x", "0.80x"]
    assert row["project: Arrow batches"] == ["100%", "(2", "of", "2)", "n/a"]


def test_a_failed_contender_shows_as_failed_and_leaves_the_other_ratios(capsys):
    results = {
        "clean": {throughput.PEER_PARQUET: _figures(1000, 4.0), "project": _figures(1000, 2.0)},
        "messy": {throughput.PEER_PARQUET: {"failed": "exit 1"}, "project": _figures(1000, 10.0)},
    }
    throughput._print_ratios(results["messy"])
    throughput._print_side_by_side(results)
    lines = capsys.readouterr().out.splitlines()
    row = {line[:44].strip(): line[44:].split() for line in lines}
    assert row[throughput.PEER_PARQUET] == ["250", "rows/s", "failed"]
    assert row[f"project / {throughput.PEER_PARQUET}"] == ["2.00x", "-"]
