"""Injected faults: each kind behaves as its name says, and fires exactly when told to."""

import threading
import time

import httpx
import orjson
import pytest

from sources.simulator import Fault

from .conftest import LEADS, get_page

SERVER_ERROR = {
    "statusCode": 500,
    "error": "Internal Server Error",
    "message": "Internal Server Error (simulated fault)",
}


def test_each_fault_kind(api, sim, sim_world):
    path = "/api/v2/campaigns"
    expectations = {
        "status": lambda r: r.status_code == 500 and r.json() == SERVER_ERROR,
        "rate_limit": lambda r: r.status_code == 429 and r.json()["error"] == "Too Many Requests",
        "invalid_json": lambda r: r.status_code == 200 and _not_json(r.content),
        "error_200": lambda r: r.status_code == 200 and r.json() == {"error": "ACC_AUTH_ERROR"},
    }
    for kind, expected in expectations.items():
        sim.faults.add(Fault(path=path, kind=kind, times=1))
        assert expected(api.get(path)), kind
        assert get_page(api, path)["items"], f"{kind} should fire once only"
    for kind in ("drop", "truncate"):
        sim.faults.add(Fault(path=path, kind=kind, times=1))
        with pytest.raises(httpx.TransportError):
            api.get(path)
        assert get_page(api, path)["items"]
    assert [r.fault for r in sim.requests if r.fault] == [*expectations, "drop", "truncate"]


def _not_json(content: bytes) -> bool:
    try:
        orjson.loads(content)
    except orjson.JSONDecodeError:
        return True
    return False


def test_status_fault_takes_any_status_and_retry_after(api, sim):
    sim.faults.add(Fault(path=LEADS, kind="status", status=503, retry_after=2, times=1))
    response = api.post(LEADS, json={})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"] == "Service Unavailable"


def test_rate_limit_fault_may_carry_retry_after(api, sim):
    sim.faults.add(Fault(path=LEADS, kind="rate_limit", retry_after=3, times=1))
    response = api.post(LEADS, json={})
    assert (response.status_code, response.headers["retry-after"]) == (429, "3")


def test_slow_fault_delays_a_normal_answer(api, sim):
    sim.faults.add(Fault(path="/api/v2/campaigns", kind="slow", delay=0.3, times=1))
    started = time.perf_counter()
    assert get_page(api, "/api/v2/campaigns")["items"]
    assert time.perf_counter() - started >= 0.3


def test_a_slow_answer_goes_at_once_when_the_faults_are_cleared(api, sim):
    held = sim.faults.add(Fault(path="/api/v2/campaigns", kind="slow", delay=30, times=1))
    answer: list[dict] = []
    asking = threading.Thread(target=lambda: answer.append(get_page(api, "/api/v2/campaigns")))
    asking.start()
    while not held.fired:
        time.sleep(0.005)
    time.sleep(0.1)
    assert not answer  # held
    sim.faults.clear()
    asking.join(timeout=5)
    assert answer and answer[0]["items"]


def test_repeat_item_fault_starts_the_page_with_the_previous_pages_last_item(api, sim, sim_world):
    first = get_page(api, LEADS, limit=10)
    sim.faults.add(Fault(path=LEADS, kind="repeat_item", times=1))
    second = get_page(api, LEADS, limit=10, starting_after=first["next_starting_after"])
    third = get_page(api, LEADS, limit=10, starting_after=second["next_starting_after"])
    ids = sim_world.ids("leads")
    assert [lead["id"] for lead in second["items"]] == ids[9:19]
    assert [lead["id"] for lead in third["items"]] == ids[19:29]


def test_times_and_after_requests_choose_which_requests_fail(api, sim):
    sim.faults.add(Fault(path="/api/v2/campaigns", kind="status", times=2, after_requests=1))
    assert [api.get("/api/v2/campaigns").status_code for _ in range(5)] == [200, 500, 500, 200, 200]


def test_probability_is_seeded_and_repeatable(api, sim):
    def run() -> list[int]:
        sim.faults.clear()
        sim.faults.add(Fault(path="/api/v2/campaigns", kind="status", probability=0.5, seed=4))
        return [api.get("/api/v2/campaigns").status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert 500 in first and 200 in first


def test_fault_only_hits_its_path_and_clear_removes_it(api, sim):
    sim.faults.add(Fault(path=LEADS, kind="status"))
    assert api.get("/api/v2/campaigns").status_code == 200
    assert api.post(LEADS, json={}).status_code == 500
    sim.faults.clear()
    assert api.post(LEADS, json={}).status_code == 200


def test_a_fault_added_again_starts_counting_afresh(api, sim):
    fault = Fault(path="/api/v2/campaigns", kind="status", times=1)
    for _ in range(2):
        sim.faults.clear()
        sim.faults.add(fault)
        assert [api.get("/api/v2/campaigns").status_code for _ in range(2)] == [500, 200]
    assert (fault.seen, fault.fired) == (2, 1)


def test_unknown_fault_kind_is_refused():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="explode")


@pytest.mark.parametrize("path", [LEADS, "/api/v2/campaigns"], ids=["cursor_in_body", "cursor_in_query"])
def test_cursor_faults_spare_a_walks_first_page_and_fire_on_the_pages_after_it(api, sim, path):
    sim.faults.add(Fault(path=path, kind="empty_page", times=1))
    first = get_page(api, path, limit=2)
    assert first["items"]
    cursor = first["next_starting_after"]
    assert get_page(api, path, limit=2, starting_after=cursor) == {"items": [], "next_starting_after": cursor}
    assert get_page(api, path, limit=2, starting_after=cursor)["items"]


def test_stuck_cursor_fault_answers_the_next_items_with_the_cursor_that_was_sent(api, sim, sim_world):
    cursor = get_page(api, LEADS, limit=10)["next_starting_after"]
    sim.faults.add(Fault(path=LEADS, kind="stuck_cursor", times=1))
    stuck = get_page(api, LEADS, limit=10, starting_after=cursor)
    assert [lead["id"] for lead in stuck["items"]] == sim_world.ids("leads")[10:20]
    assert stuck["next_starting_after"] == cursor


def test_reject_cursor_fault_answers_400_naming_the_cursor(api, sim):
    cursor = get_page(api, "/api/v2/campaigns", limit=2)["next_starting_after"]
    sim.faults.add(Fault(path="/api/v2/campaigns", kind="reject_cursor", times=1))
    response = api.get("/api/v2/campaigns", params={"limit": 2, "starting_after": cursor})
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": f"Invalid starting_after value: {cursor!r}",
    }
