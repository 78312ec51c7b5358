"""Workspace rate limits: sliding windows, shared by all keys of a workspace, 429 without Retry-After."""

import time

import httpx
import pytest

from sources.simulator import RateLimits, Simulator, World

from .conftest import HEADERS


@pytest.fixture
def limited():
    def start(**limits):
        simulator = Simulator(
            World(seed=5, sizes={"campaigns": 3, "emails": 5}), rate_limits=RateLimits(**limits)
        )
        simulator.start()
        started.append(simulator)
        return simulator, httpx.Client(base_url=simulator.base_url, headers=HEADERS)

    started: list[Simulator] = []
    yield start
    for simulator in started:
        simulator.stop()


def test_rate_limit_answers_429_with_error_body(limited):
    _, client = limited(per_second=3)
    statuses = [client.get("/api/v2/campaigns").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    response = client.get("/api/v2/campaigns")
    assert response.json() == {
        "statusCode": 429,
        "error": "Too Many Requests",
        "message": "Rate limit exceeded",
    }
    assert "retry-after" not in response.headers
    assert response.headers["content-type"].startswith("application/json")


def test_retry_after_is_sent_only_when_asked_for(limited):
    _, client = limited(per_second=1, retry_after=True)
    client.get("/api/v2/campaigns")
    response = client.get("/api/v2/campaigns")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"


def test_retry_after_counts_api_seconds_on_a_scaled_clock(limited):
    """At 60x an API minute lasts a second: the wait for the next per-minute slot is ~60 API seconds."""
    _, client = limited(per_minute=1, time_scale=60, retry_after=True)
    client.get("/api/v2/campaigns")
    response = client.get("/api/v2/campaigns")
    assert response.status_code == 429
    assert 50 <= int(response.headers["retry-after"]) <= 60


def test_window_slides_and_a_429_does_not_count(limited):
    _, client = limited(per_second=2, time_scale=2)  # a 0.5 s window
    assert [client.get("/api/v2/campaigns").status_code for _ in range(4)] == [200, 200, 429, 429]
    time.sleep(0.55)
    assert [client.get("/api/v2/campaigns").status_code for _ in range(3)] == [200, 200, 429]


def test_per_minute_limit_with_time_scale(limited):
    _, client = limited(per_minute=4, time_scale=60)  # a "minute" lasts one second
    assert [client.get("/api/v2/campaigns").status_code for _ in range(5)] == [200] * 4 + [429]


def test_emails_have_their_own_stricter_limit(limited):
    _, client = limited(emails_per_minute=2, time_scale=60)
    assert [client.get("/api/v2/emails").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/api/v2/campaigns").status_code == 200


def test_all_keys_of_a_workspace_share_its_limits_and_other_workspaces_do_not(limited):
    simulator, client = limited(per_second=2)
    simulator.add_key("second-key", simulator.world)
    simulator.add_key("elsewhere", World(seed=6, sizes={"campaigns": 1}))
    second = httpx.Client(
        base_url=simulator.base_url, headers={**HEADERS, "Authorization": "Bearer second-key"}
    )
    elsewhere = httpx.Client(
        base_url=simulator.base_url, headers={**HEADERS, "Authorization": "Bearer elsewhere"}
    )
    assert client.get("/api/v2/campaigns").status_code == 200
    assert second.get("/api/v2/campaigns").status_code == 200
    assert second.get("/api/v2/campaigns").status_code == 429
    assert elsewhere.get("/api/v2/campaigns").status_code == 200


def test_no_limits_when_rate_limits_is_none(api):
    assert {api.get("/api/v2/emails").status_code for _ in range(30)} == {200}
