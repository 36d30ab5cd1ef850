"""Known agents and queues over HTTP (issue 16, item 5): `assign` takes a known agent, `me` or null,
and a known queue; anything else is 422 listing the known values, and nothing changes. GET
/v1/agents and /v1/queues list them; LIFELINE_QUEUES_FILE adds queues."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from casework import api_keys
from models.db import session_scope
from tests.api.conftest import ApiWorld
from tests.casework.builders import T0

AGENTS = ["agent-1", "ana", "bo", "zoe"]  # the agent keys of tests.api.conftest.create_keys
POLICY_QUEUES = ["creator-support", "security-specialists", "tns-leads"]  # the sample policy's stages


def _queues_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: Any) -> None:
    path = tmp_path / "queues.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    monkeypatch.setenv("LIFELINE_QUEUES_FILE", str(path))


def test_agents_are_the_active_agent_keys(api: ApiWorld) -> None:
    listed = api.get("/v1/agents", who="auditor")
    with session_scope(api.engine) as session:
        api_keys.revoke_key(session, "bo", T0)
    after = api.get("/v1/agents")

    assert listed.status_code == 200
    assert [a["name"] for a in listed.json()["items"]] == AGENTS  # no admin-1, auditor-1, gone
    assert [a["name"] for a in after.json()["items"]] == ["agent-1", "ana", "zoe"]


def test_queues_are_the_policies_and_the_queues_file(
    api: ApiWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = api.get("/v1/queues").json()["items"]
    _queues_file(tmp_path, monkeypatch, {"queues": ["vip-desk", "tns-leads"]})
    after = {q["name"]: q for q in api.get("/v1/queues").json()["items"]}

    assert before[0] == {"name": "creator-support", "policies": ["test-policy"], "in_queues_file": False}
    assert [q["name"] for q in before] == POLICY_QUEUES
    assert sorted(after) == sorted([*POLICY_QUEUES, "vip-desk"])
    assert after["vip-desk"] == {"name": "vip-desk", "policies": [], "in_queues_file": True}
    assert after["tns-leads"]["policies"] == ["test-policy"] and after["tns-leads"]["in_queues_file"]


@pytest.mark.parametrize(
    ("args", "pointer", "known_field", "known"),
    [
        ({"assignee": "ann"}, "/assignee", "known_agents", AGENTS),
        ({"assignee": "admin-1"}, "/assignee", "known_agents", AGENTS),  # admins do not work cases
        ({"assignee": "gone"}, "/assignee", "known_agents", AGENTS),  # a revoked key
        ({"queue": "vip-desk"}, "/queue", "known_queues", POLICY_QUEUES),
        ({"assignee": "ana", "queue": "moon"}, "/queue", "known_queues", POLICY_QUEUES),
    ],
)
def test_assign_to_an_unknown_name_is_422_listing_the_known_ones(
    api: ApiWorld, args: dict[str, str], pointer: str, known_field: str, known: list[str]
) -> None:
    case = api.open_case()

    response = api.post(f"/v1/cases/{case['id']}/actions", json={"action": "assign", **args})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["pointer"] == pointer
    assert problem[known_field] == known
    assert "is not a known" in problem["detail"] and ", ".join(known) in problem["detail"]
    after = api.get(f"/v1/cases/{case['id']}").json()
    assert (after["version"], after["assignee"], after["queue"]) == (1, None, "creator-support")


def test_assign_takes_me_a_known_agent_null_and_a_file_queue(
    api: ApiWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = api.open_case()
    _queues_file(tmp_path, monkeypatch, {"queues": ["vip-desk"]})

    mine = api.act(case["id"], "assign", assignee="me")
    theirs = api.act(case["id"], "assign", assignee="zoe", queue="vip-desk")
    nobody = api.act(case["id"], "assign", assignee=None)

    assert mine["assignee"] == "agent-1"  # stored as the caller's key name
    assert (theirs["assignee"], theirs["queue"]) == ("zoe", "vip-desk")
    assert nobody["assignee"] is None
    events = api.get(f"/v1/cases/{case['id']}/events").json()["items"]
    assert [e["data"]["to"] for e in events if e["kind"] == "assigned"] == ["agent-1", "zoe", None]


def test_a_bulk_assign_to_an_unknown_agent_is_refused_before_any_case(api: ApiWorld) -> None:
    cases = [api.open_case() for _ in range(3)]
    body = {
        "action": {"action": "assign", "assignee": "anna"},
        "cases": [{"id": c["id"], "version": 1} for c in cases],
    }

    response = api.post("/v1/cases/bulk-actions", json=body)

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/action/assignee"
    assert response.json()["known_agents"] == AGENTS
    assert [api.get(f"/v1/cases/{c['id']}").json()["version"] for c in cases] == [1, 1, 1]


def test_a_bad_queues_file_is_a_named_server_problem(
    api: ApiWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = api.open_case()
    _queues_file(tmp_path, monkeypatch, {"queues": ["night shift"]})

    listing = api.get("/v1/queues")
    action = api.post(f"/v1/cases/{case['id']}/actions", json={"action": "assign", "queue": "x"})

    for response in (listing, action):
        assert response.status_code == 500
        assert response.json()["type"] == "/problems/queues-file-unreadable"
        assert "/queues/0" in response.json()["detail"]


def test_listing_filters_are_not_checked(api: ApiWorld) -> None:
    # A revoked agent's or a retired queue's cases must stay findable: a filter just matches.
    api.open_case()

    for params in ({"queue": "moon"}, {"assignee": "nobody"}):
        response = api.get("/v1/cases", params=params)
        assert response.status_code == 200 and response.json()["items"] == []
