"""Retiring a policy over HTTP: no new case opens under it (409 naming it), its open cases keep it
and keep escalating, and the policy list says it is retired."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from casework.cases.escalations import apply_due_timers, claim_due_cases
from models.db import session_scope
from tests.api.conftest import ApiWorld, sample_policy
from tests.casework.builders import register


def test_a_retired_policy_opens_no_case_while_its_open_cases_keep_escalating(api: ApiWorld) -> None:
    case = api.open_case()  # a partner: P1, first response due in 15 minutes

    retired = api.post("/v1/policies/test-policy/retire", who="admin")
    again = api.post("/v1/policies/test-policy/retire", who="admin")
    refused = api.post("/v1/cases", json={"incident_type": "account_compromised", "attributes": {}})

    assert retired.status_code == 200 and retired.json()["changed"] is True
    assert retired.json()["open_cases"] == 1
    assert again.json()["changed"] is False and again.json()["retired_at"] == retired.json()["retired_at"]
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/policy-retired"
    assert refused.json()["policy_id"] == "test-policy" and "test-policy" in refused.json()["detail"]
    listed = {p["id"]: p for p in api.get("/v1/policies").json()}
    assert listed["test-policy"]["retired"] is True and listed["test-policy"]["open_cases"] == 1

    later = api.clock.now + timedelta(minutes=16)
    with session_scope(api.engine) as session:
        apply_due_timers(session, claim_due_cases(session, later), later)

    kinds = [e["kind"] for e in api.get(f"/v1/cases/{case['id']}/events").json()["items"]]
    assert "breached" in kinds
    assert api.get(f"/v1/cases/{case['id']}").json()["policy"]["version"] == 1
    simulated = api.post(
        "/v1/policies/test-policy/simulate",
        json={"case": {"opened_at": "2026-03-02T09:00:00Z", "attributes": {}}, "actions": []},
    )
    assert simulated.status_code == 200  # a retired policy can still be previewed


def test_only_admins_retire_and_unknown_policies_are_404(api: ApiWorld) -> None:
    assert api.post("/v1/policies/test-policy/retire", who="agent").status_code == 403
    missing = api.post("/v1/policies/nope/retire", who="admin")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_a_retired_policys_successor_takes_its_incident_type(api: ApiWorld) -> None:
    successor = replace(sample_policy(), id="test-policy-2026")
    register(api.engine, successor, now=api.clock.now)
    both = api.post("/v1/cases", json={"incident_type": "account_compromised", "attributes": {}})
    assert both.status_code == 422 and "test-policy, test-policy-2026" in both.json()["detail"]

    api.post("/v1/policies/test-policy/retire", who="admin")
    opened = api.open_case()

    assert opened["policy"]["id"] == "test-policy-2026"
    api.post("/v1/policies/test-policy-2026/retire", who="admin")
    refused = api.post("/v1/cases", json={"incident_type": "account_compromised", "attributes": {}})
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/policy-retired"
