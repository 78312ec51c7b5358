"""Every transient fault at once still ends with every item exactly once; a lasting one fails, then resumes.

`test_faults.py` shows each fault alone on one endpoint; here they all hit every endpoint in one run.
"""

from sources.simulator import Fault

from .killing import CORE_RESOURCES, Reader, cli_env, run_args, run_to_end

RESOURCES = CORE_RESOURCES.split(",")
LEADS_PATH = "/api/v2/leads/list"
EMAILS_PATH = "/api/v2/emails"
REQUEST_TIMEOUT = 3.0


def storm() -> list[Fault]:
    """First added, first to fire: the bursts and one-offs come before the background noise."""
    return [
        # a burst of 429s with Retry-After, on the busiest endpoint
        Fault(path=LEADS_PATH, kind="rate_limit", retry_after=0.05, after_requests=1, times=3),
        # slower than the client's timeout (which is long enough that a busy machine's normal answers
        # never reach it: every retry counted is a fault's)
        Fault(path="/api/v2/campaigns", kind="slow", delay=REQUEST_TIMEOUT + 0.5, times=1),
        # the connection drops before an answer, and in the middle of the body
        Fault(path="/api/v2/accounts", kind="drop", times=1),
        Fault(path=EMAILS_PATH, kind="truncate", times=1),
        # a page that repeats the previous page's last item
        Fault(path=LEADS_PATH, kind="repeat_item", after_requests=2, times=1),
        Fault(path=EMAILS_PATH, kind="repeat_item", after_requests=1, times=1),
        # a body that is not JSON
        Fault(path="/api/v2/audit-logs", kind="invalid_json", times=1),
        # background noise on every endpoint: 10% server errors
        Fault(kind="status", status=503, probability=0.10, seed=3),
    ]


def test_all_transient_faults_in_one_run_still_load_every_item_exactly_once(warehouse, simulator, world):
    faults = [simulator.faults.add(fault) for fault in storm()]
    result = warehouse.sync(
        resources=RESOURCES,
        request_timeout_seconds=REQUEST_TIMEOUT,
        checkpoint_seconds=0,
        emails_requests_per_minute=10_000,
    )
    assert [fault.kind for fault in faults if not fault.fired] == []
    failed_requests = sum(fault.fired for fault in faults if fault.kind != "repeat_item")
    assert sum(result.progress.of(name).retries for name in RESOURCES) == failed_requests
    for name in RESOURCES:
        key = "email" if name == "accounts" else "id"
        assert warehouse.query(f"select count(*) - count(distinct {key}) from {{ds}}.{name}") == [(0,)]
        assert warehouse.keys(name, key) == sorted(world.ids(name)), name


def test_a_fault_that_does_not_clear_exits_1_naming_the_endpoint_and_the_next_run_resumes_there(
    tmp_path, simulator, world
):
    env = cli_env(simulator, checkpoint_seconds=0, max_attempts=3)
    args = run_args(tmp_path, "--resources", "leads")
    simulator.faults.add(Fault(path=LEADS_PATH, kind="status", status=502, after_requests=1, times=1000))
    failed = run_to_end(args, env, tmp_path)
    assert failed.process.returncode == 1
    assert "POST /api/v2/leads/list" in failed.stderr and "gave up after 3 attempts" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1

    simulator.faults.clear()
    simulator.reset_requests()
    resumed = run_to_end(args, env, tmp_path)
    assert resumed.process.returncode == 0, resumed.stderr
    first = simulator.requests_to(LEADS_PATH)[0]
    assert first.body["starting_after"] == world.ids("leads")[99]  # after the one page that got through
    stored = Reader("duckdb", str(tmp_path / "warehouse.duckdb")).rows_by_key("leads")
    assert sorted(stored) == sorted(world.ids("leads"))
