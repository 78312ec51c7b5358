"""Who may call what: keys, scopes from the spec, the paid plan, the edge proxy, unknown routes."""

import httpx
import pytest

from sources.simulator import Simulator, World

from .conftest import HEADERS, LEADS, get_page


def test_missing_key_401(sim):
    response = httpx.get(f"{sim.base_url}/api/v2/campaigns", headers={"User-Agent": "tests"})
    assert response.status_code == 401
    assert response.json() == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "Missing Authorization header",
    }


@pytest.mark.parametrize("authorization", ["Bearer wrong-key", "sim-key", "Basic c2ltLWtleQ=="])
def test_unknown_or_malformed_key_401(sim, authorization):
    response = httpx.get(
        f"{sim.base_url}/api/v2/campaigns", headers={"User-Agent": "tests", "Authorization": authorization}
    )
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid API key"


def test_scope_missing_403(sim, sim_world):
    sim.add_key("campaigns-only", sim_world, scopes=("campaigns:read",))
    headers = {"User-Agent": "tests", "Authorization": "Bearer campaigns-only"}
    assert httpx.get(f"{sim.base_url}/api/v2/campaigns", headers=headers).status_code == 200
    response = httpx.post(f"{sim.base_url}{LEADS}", headers=headers, json={})
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "Forbidden"
    for scope in ("leads:read", "leads:all", "all:read", "all:all"):
        assert scope in body["message"]


@pytest.mark.parametrize("scope", ["all:read", "all:all", "emails:all"])
def test_broad_scopes_grant_reads(sim, sim_world, scope):
    sim.add_key("k", sim_world, scopes=(scope,))
    response = httpx.get(
        f"{sim.base_url}/api/v2/emails", headers={"User-Agent": "t", "Authorization": "Bearer k"}
    )
    assert response.status_code == 200


def test_unpaid_workspace_402(api, sim_world):
    sim_world.plan_active = False
    response = api.get("/api/v2/campaigns")
    assert response.status_code == 402
    assert response.json() == {
        "statusCode": 402,
        "error": "Payment Required",
        "message": "Workspace does not have an active paid plan",
    }


def test_request_without_user_agent_gets_the_edge_proxys_html_403(sim):
    with httpx.Client(base_url=sim.base_url) as client:
        response = client.get(
            "/api/v2/campaigns", headers={"Authorization": "Bearer sim-key", "User-Agent": ""}
        )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/v2/nope"), ("GET", "/api/v2/leads/list")])
def test_unknown_route_404(api, method, path):
    response = api.request(method, path)
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "error": "Not Found",
        "message": f"Route {method}:{path} not found",
    }


def test_each_key_sees_its_own_workspace(sim):
    other = World(seed=8, sizes={"campaigns": 2})
    sim.add_key("other-key", other)
    mine = get_page(httpx.Client(base_url=sim.base_url, headers=HEADERS), "/api/v2/campaigns")
    with httpx.Client(
        base_url=sim.base_url, headers={**HEADERS, "Authorization": "Bearer other-key"}
    ) as client:
        theirs = get_page(client, "/api/v2/campaigns")
        workspace = client.get("/api/v2/workspaces/current").json()
    assert [c["id"] for c in theirs["items"]] == other.ids("campaigns")
    assert len(mine["items"]) == 5
    assert workspace["id"] == other.org_id
    assert sim.requests[-1].workspace == other.name


def test_workspace_current_is_one_object_of_the_key_s_workspace(api, sim_world):
    workspace = api.get("/api/v2/workspaces/current").json()
    assert workspace["id"] == sim_world.org_id
    assert workspace["name"] == sim_world.name
    assert {"id", "timestamp_created", "timestamp_updated", "owner", "name"} <= set(workspace)


def test_simulator_as_context_manager_stops_serving():
    with Simulator(World(seed=1, sizes={"campaigns": 1})) as sim:
        url = f"{sim.base_url}/api/v2/campaigns"
    with pytest.raises(httpx.TransportError):
        httpx.get(url, headers=HEADERS, timeout=1)


def test_a_workspace_lacking_an_add_on_answers_402_on_its_endpoints_only():
    world = World(seed=3, sizes={"campaigns": 2}, missing_add_ons={"ai-agents"})
    with Simulator(world) as sim, httpx.Client(base_url=sim.base_url, headers=HEADERS) as client:
        agents = client.get("/api/v2/ai-agents")
        activities = client.get(f"/api/v2/ai-agents/{world.ids('ai_agents')[0]}/activities")
        campaigns = client.get("/api/v2/campaigns")
    assert agents.status_code == activities.status_code == 402
    assert agents.json() == {
        "statusCode": 402,
        "error": "Payment Required",
        "message": "Workspace does not have an active paid plan",
    }
    assert campaigns.status_code == 200


def test_an_unknown_add_on_is_refused():
    with pytest.raises(ValueError, match="unknown add-ons"):
        World(missing_add_ons={"teleportation"})
