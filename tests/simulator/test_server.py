"""The HTTP surface: headers, keep-alive, the request log, the command line."""

import email.utils
import http.client
import shlex
import subprocess
import sys
from datetime import timedelta

import httpx

from sources.simulator import Simulator, World

from .conftest import HEADERS, KEY, LEADS, get_page


def test_every_response_has_a_date_from_the_world_clock_json_type_and_length(api, sim_world):
    sim_world.advance(timedelta(days=3).total_seconds())
    for response in (
        api.get("/api/v2/campaigns"),
        api.get("/api/v2/nope"),
        api.post(LEADS, json={"limit": 0}),
    ):
        date = email.utils.parsedate_to_datetime(response.headers["date"])
        assert abs(date - sim_world.now()) < timedelta(seconds=2)
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert int(response.headers["content-length"]) == len(response.content)


def test_connections_are_kept_alive(sim):
    connection = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    connection.connect()
    socket_before = connection.sock
    for _ in range(3):
        connection.request("GET", "/api/v2/campaigns", headers=HEADERS)
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Connection") == "keep-alive"
        response.read()
    assert connection.sock is socket_before
    connection.close()


def test_request_log_records_method_path_query_body_status_and_workspace(api, sim, sim_world):
    api.get("/api/v2/campaigns", params={"limit": 2})
    api.post(LEADS, json={"limit": 3})
    first, second = sim.requests
    assert (first.method, first.path, first.query, first.body, first.status) == (
        "GET",
        "/api/v2/campaigns",
        {"limit": "2"},
        None,
        200,
    )
    assert (second.method, second.body, second.workspace) == ("POST", {"limit": 3}, sim_world.name)
    assert [r.path for r in sim.requests_to(LEADS)] == [LEADS]
    sim.reset_requests()
    assert sim.requests == []


def test_request_log_never_contains_the_key(api, sim):
    api.get("/api/v2/campaigns", params={"limit": 1})
    api.post(LEADS, json={"limit": 1})
    httpx.get(
        f"{sim.base_url}/api/v2/emails", headers={"User-Agent": "t", "Authorization": "Bearer leaked-key"}
    )
    assert sim.requests
    assert KEY not in repr(sim.requests) and "leaked-key" not in repr(sim.requests)
    assert "Bearer" not in repr(sim.requests)


def test_invalid_json_body_is_400(api):
    response = api.post(LEADS, content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"


def test_several_clients_at_once(sim):
    import concurrent.futures

    def walk(_):
        with httpx.Client(
            base_url=sim.base_url, headers={"Authorization": f"Bearer {KEY}", "User-Agent": "t"}
        ) as c:
            return len(get_page(c, LEADS, limit=100)["items"])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert list(pool.map(walk, range(8))) == [100] * 8


def test_command_line_serves_and_prints_the_base_url_and_key():
    arguments = "--port 0 --seed 3 --leads 12 --rate-limits off --api-key cli-key"
    process = subprocess.Popen(
        [sys.executable, "-m", "sources.simulator", *shlex.split(arguments)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert "cli-key" in line
        base_url = line.split()[4]
        headers = {"Authorization": "Bearer cli-key", "User-Agent": "t"}
        page = httpx.post(f"{base_url}{LEADS}", json={"limit": 100}, headers=headers).json()
        assert len(page["items"]) == 12
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_start_on_a_fixed_port_and_stop_twice():
    sim = Simulator(World(seed=1, sizes={"campaigns": 1}))
    sim.start()
    port = sim.port
    sim.stop()
    sim.stop()
    again = Simulator(World(seed=1, sizes={"campaigns": 1}), port=port).start()
    try:
        assert again.base_url.endswith(f":{port}")
    finally:
        again.stop()
