"""Transient faults are retried until they clear; faults that persist fail with the endpoint named."""

import pytest

from sources.instantly.errors import ApiError, RetriesExhausted
from sources.simulator import Fault

LEADS_PATH = "/api/v2/leads/list"


def _cause(excinfo: pytest.ExceptionInfo, kind: type) -> BaseException:
    error: BaseException | None = excinfo.value
    while error is not None and not isinstance(error, kind):
        error = error.__cause__ or error.__context__
    assert error is not None, f"no {kind.__name__} in {excinfo.value!r}"
    return error


TRANSIENT_FAULTS = {
    "server_error": Fault(path=LEADS_PATH, kind="status", status=503, times=3),
    "rate_limited_with_retry_after": Fault(path=LEADS_PATH, kind="rate_limit", retry_after=0.05, times=2),
    "rate_limited_without_retry_after": Fault(path=LEADS_PATH, kind="rate_limit", times=2),
    "dropped_connection": Fault(path=LEADS_PATH, kind="drop", times=2),
    "truncated_body": Fault(path=LEADS_PATH, kind="truncate", times=2),
    "invalid_json": Fault(path=LEADS_PATH, kind="invalid_json", times=2),
    "slower_than_the_timeout": Fault(path=LEADS_PATH, kind="slow", delay=1.5, times=1),
}


@pytest.mark.parametrize("fault", TRANSIENT_FAULTS.values(), ids=TRANSIENT_FAULTS.keys())
def test_transient_fault_is_retried_and_every_lead_loads_once(duckdb_warehouse, simulator, world, fault):
    simulator.faults.add(fault)
    result = duckdb_warehouse.sync(resources=["leads"], request_timeout_seconds=1.0)
    assert result.progress.of("leads").retries >= 1
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))


def test_a_fault_that_does_not_clear_fails_naming_the_endpoint(duckdb_warehouse, simulator):
    simulator.faults.add(Fault(path=LEADS_PATH, kind="status", status=500, times=100))
    with pytest.raises(Exception) as excinfo:
        duckdb_warehouse.sync(resources=["leads"], max_attempts=3)
    error = _cause(excinfo, RetriesExhausted)
    assert "POST /api/v2/leads/list" in str(error)
    assert "3 attempts" in str(error)


def test_http_200_with_an_error_body_is_an_error_not_an_empty_result(duckdb_warehouse, simulator):
    simulator.faults.add(Fault(path="/api/v2/accounts", kind="error_200", times=1))
    with pytest.raises(Exception) as excinfo:
        duckdb_warehouse.sync(resources=["accounts"])
    assert "ACC_AUTH_ERROR" in str(_cause(excinfo, ApiError))


def test_a_page_repeating_the_previous_pages_last_item_still_loads_each_lead_once(
    duckdb_warehouse, simulator, world
):
    simulator.faults.add(Fault(path=LEADS_PATH, kind="repeat_item", times=1, after_requests=1))
    duckdb_warehouse.sync(resources=["leads"])
    assert duckdb_warehouse.count("leads") == len(world.ids("leads"))
    assert duckdb_warehouse.keys("leads") == sorted(world.ids("leads"))
