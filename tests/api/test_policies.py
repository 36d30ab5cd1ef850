"""Policies over HTTP: registered versions, validation with pointers, simulation."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from casework.settings import BUNDLED_POLICIES_DIR
from tests.api.conftest import ApiWorld, sample_policy
from tests.casework.builders import CREATOR, T0, register


def test_policies_list_their_latest_version_and_open_cases(api: ApiWorld) -> None:
    api.open_case()
    register(api.engine, replace(sample_policy(), title="Edited"), now=T0)

    listed = api.get("/v1/policies", who="auditor").json()
    detail = api.get("/v1/policies/test-policy", who="auditor").json()
    first = api.get("/v1/policies/test-policy?version=1", who="auditor").json()

    assert [(p["id"], p["latest_version"], p["open_cases"]) for p in listed] == [("test-policy", 2, 1)]
    assert [(v["version"], v["open_cases"], v["latest"]) for v in detail["versions"]] == [
        (1, 1, False),
        (2, 0, True),
    ]
    assert (detail["version"], first["version"]) == (2, 1)
    assert api.get("/v1/policies/nope").status_code == 404
    assert api.get("/v1/policies/test-policy?version=9").status_code == 404


def test_validate_accepts_a_bundled_policy_and_points_at_each_error(api: ApiWorld) -> None:
    document = json.loads((BUNDLED_POLICIES_DIR / "account_compromised.json").read_text())
    ok = api.post("/v1/policies/validate", who="admin", json=document)

    broken = {**document, "calendar": 7, "stages": [{**document["stages"][0], "escalate_after": "soon"}]}
    bad = api.post("/v1/policies/validate", who="admin", json=broken)

    assert ok.status_code == 200 and ok.json()["valid"] is True
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    pointers = {e["pointer"] for e in bad.json()["errors"]}
    assert "/calendar" in pointers
    assert any(p.startswith("/stages/0/escalate_after") for p in pointers)


def test_simulate_gives_the_timeline_of_the_latest_version(api: ApiWorld) -> None:
    body = {
        "case": {"opened_at": T0.isoformat(), "attributes": CREATOR},
        "actions": [{"at": (T0 + timedelta(minutes=40)).isoformat(), "action": "acknowledge"}],
        "until": (T0 + timedelta(hours=1)).isoformat(),
    }

    response = api.post("/v1/policies/test-policy/simulate", json=body)

    assert response.status_code == 200, response.text
    result = response.json()
    kinds = [(e["kind"], e.get("clock") or e.get("stage")) for e in result["timeline"]]
    assert ("breached", "first_response") in kinds
    assert [k for k, _ in kinds].count("escalated") == 1
    assert result["policy"] == {"id": "test-policy", "version": 1}
    assert result["final_stage"] == "security"


def test_simulate_points_into_the_body(api: ApiWorld) -> None:
    late_first = {
        "case": {"opened_at": "2026-03-02T09:00:00"},
        "actions": [],
    }
    bad_action = {
        "case": {"opened_at": "2026-03-02T09:00:00Z"},
        "actions": [{"at": "2026-03-02T09:10:00Z", "action": "fly"}],
    }
    forbidden = {
        "case": {"opened_at": "2026-03-02T09:00:00Z"},
        "actions": [{"at": "2026-03-02T09:10:00Z", "action": "close"}],
    }

    for body, pointer in (
        (late_first, "/case/opened_at"),
        (bad_action, "/actions/0/action"),
        (forbidden, "/actions/0/action"),
    ):
        response = api.post("/v1/policies/test-policy/simulate", json=body)
        assert response.status_code == 422, response.text
        assert [e["pointer"] for e in response.json()["errors"]] == [pointer]
