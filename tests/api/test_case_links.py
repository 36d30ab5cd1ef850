"""Linked cases over HTTP: children inherit the creator, the parent lists them and cannot be resolved
before them, related and duplicate links and unlinks are events on both cases, a duplicate merges."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.api.conftest import ApiWorld
from tests.casework.builders import CREATOR, T0, register
from tests.engine.builders import make_policy

LOCKED = replace(make_policy(), id="account-locked", incident_type="account_locked")


@pytest.fixture
def world(api: ApiWorld) -> ApiWorld:
    register(api.engine, LOCKED, now=T0 - timedelta(days=1))
    return api


def _events(api: ApiWorld, case_id: str, kind: str) -> list[tuple[str, dict, str]]:
    items = api.get(f"/v1/cases/{case_id}/events").json()["items"]
    return [(e["kind"], e["data"], e["actor"]) for e in items if e["kind"] == kind]


def _child(api: ApiWorld, parent_id: str, **body: object) -> dict:
    response = api.post(f"/v1/cases/{parent_id}/children", json={"incident_type": "account_locked", **body})
    assert response.status_code == 201, response.text
    assert response.headers["Location"].endswith(f"/v1/cases/{response.json()['id']}")
    return response.json()


def test_a_child_opens_under_its_own_policy_with_the_parents_creator(world: ApiWorld) -> None:
    parent = world.open_case()

    child = _child(
        world, parent["id"], attributes={"summary": "linked email taken", "creator": {"platform": "gmail"}}
    )

    assert (child["incident_type"], child["policy"]["id"]) == ("account_locked", "account-locked")
    assert child["attributes"]["creator"] == {**CREATOR["creator"], "platform": "gmail"}
    assert child["attributes"]["summary"] == "linked email taken"
    assert child["links"]["parent"]["id"] == parent["id"]
    assert child["links"]["parent"]["status"] == "open"
    viewed = world.get(f"/v1/cases/{parent['id']}").json()
    [listed] = viewed["links"]["children"]
    assert (listed["id"], listed["status"], listed["incident_type"]) == (
        child["id"],
        "open",
        "account_locked",
    )
    assert listed["next_deadline_at"] == child["next_deadline_at"]
    assert _events(world, parent["id"], "linked") == [
        ("linked", {"kind": "parent_of", "case_id": child["id"]}, "agent:agent-1")
    ]
    assert _events(world, child["id"], "linked") == [
        ("linked", {"kind": "child_of", "case_id": parent["id"]}, "agent:agent-1")
    ]


def test_a_parent_cannot_resolve_before_its_open_children_unless_forced_with_a_reason(
    world: ApiWorld,
) -> None:
    parent = world.open_case()
    email = _child(world, parent["id"])
    platform = _child(world, parent["id"], attributes={"summary": "second platform"})
    world.act(email["id"], "resolve")

    refused = world.post(f"/v1/cases/{parent['id']}/actions", json={"action": "resolve"})
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["open_children"] == [platform["id"]]
    assert platform["id"] in refused.json()["detail"]
    assert world.get(f"/v1/cases/{parent['id']}").json()["status"] == "open"

    no_reason = world.post(f"/v1/cases/{parent['id']}/actions", json={"action": "resolve", "force": True})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["pointer"] == "/reason"

    forced = world.act(parent["id"], "resolve", force=True, reason="platform team owns the rest")
    assert forced["status"] == "resolved"
    [change] = [
        e
        for e in world.get(f"/v1/cases/{parent['id']}/events").json()["items"]
        if e["kind"] == "status_changed"
    ]
    assert change["data"]["reason"] == "platform team owns the rest"


def test_a_parent_resolves_once_its_children_are_resolved(world: ApiWorld) -> None:
    parent = world.open_case()
    child = _child(world, parent["id"])
    world.act(child["id"], "resolve")

    assert world.act(parent["id"], "resolve")["status"] == "resolved"


def test_related_and_duplicate_links_are_events_on_both_cases_and_unlink_too(world: ApiWorld) -> None:
    one, two, three = world.open_case(), world.open_case(), world.open_case()

    linked = world.post(f"/v1/cases/{one['id']}/links", json={"kind": "related", "case_id": two["id"]})
    assert linked.status_code == 201, linked.text
    assert [c["id"] for c in linked.json()["links"]["related"]] == [two["id"]]
    dup = world.post(f"/v1/cases/{three['id']}/links", json={"kind": "duplicate_of", "case_id": one["id"]})
    assert dup.status_code == 201
    viewed = world.get(f"/v1/cases/{one['id']}").json()["links"]
    assert [c["id"] for c in viewed["related"]] == [two["id"]]
    assert [c["id"] for c in viewed["duplicates"]] == [three["id"]]
    assert [c["id"] for c in world.get(f"/v1/cases/{two['id']}").json()["links"]["related"]] == [one["id"]]
    assert _events(world, three["id"], "linked")[0][1] == {"kind": "duplicate_of", "case_id": one["id"]}
    assert _events(world, one["id"], "linked")[1][1] == {"kind": "duplicated_by", "case_id": three["id"]}

    again = world.post(f"/v1/cases/{two['id']}/links", json={"kind": "duplicate_of", "case_id": one["id"]})
    assert again.status_code == 409

    unlinked = world.client.delete(f"/v1/cases/{two['id']}/links/{one['id']}", headers=world.auth("agent"))
    assert unlinked.status_code == 200
    assert unlinked.json()["links"]["related"] == []
    assert _events(world, one["id"], "unlinked")[0][1] == {"kind": "related", "case_id": two["id"]}
    assert _events(world, two["id"], "unlinked")[0][1] == {"kind": "related", "case_id": one["id"]}
    missing = world.client.delete(f"/v1/cases/{two['id']}/links/{one['id']}", headers=world.auth("agent"))
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({"kind": "parent_of", "case_id": "x"}, 422, "/kind"),
        ({"kind": "related", "case_id": "cs_nope"}, 422, "/case_id"),
        ({"kind": "related"}, 422, "/case_id"),
    ],
)
def test_bad_links_are_refused_saying_where(world: ApiWorld, body: dict, status: int, where: str) -> None:
    case = world.open_case()
    response = world.post(f"/v1/cases/{case['id']}/links", json=body)
    assert response.status_code == status
    assert response.json()["errors"][0]["pointer"] == where
    assert _events(world, case["id"], "linked") == []


def test_linking_a_case_to_itself_or_from_an_unknown_case(world: ApiWorld) -> None:
    case = world.open_case()
    itself = world.post(f"/v1/cases/{case['id']}/links", json={"kind": "related", "case_id": case["id"]})
    assert itself.status_code == 422
    unknown = world.post("/v1/cases/cs_nope/links", json={"kind": "related", "case_id": case["id"]})
    assert unknown.status_code == 404
    assert (
        world.post("/v1/cases/cs_nope/children", json={"incident_type": "account_locked"}).status_code == 404
    )


def test_auditors_cannot_link(world: ApiWorld) -> None:
    one, two = world.open_case(), world.open_case()
    response = world.post(
        f"/v1/cases/{one['id']}/links", who="auditor", json={"kind": "related", "case_id": two["id"]}
    )
    assert response.status_code == 403


def test_a_duplicate_merges_into_its_survivor_stops_its_clocks_and_points_to_it(world: ApiWorld) -> None:
    survivor, duplicate = world.open_case(), world.open_case()
    world.post(f"/v1/cases/{duplicate['id']}/links", json={"kind": "duplicate_of", "case_id": survivor["id"]})
    world.clock.advance(minutes=5)

    response = world.post(
        f"/v1/cases/{duplicate['id']}/actions", json={"action": "merge_into", "case_id": survivor["id"]}
    )
    assert response.status_code == 200, response.text
    merged = response.json()

    assert merged["status"] == "merged"
    assert merged["next_deadline_at"] is None
    assert {c["state"] for c in merged["clocks"]} == {"stopped"}
    assert merged["links"]["merged_into"]["id"] == survivor["id"]
    assert merged["links"]["duplicate_of"] == []  # the merge replaced the duplicate link
    kept = world.get(f"/v1/cases/{survivor['id']}").json()
    assert [c["id"] for c in kept["links"]["merged_from"]] == [duplicate["id"]]
    assert kept["status"] == "open"
    assert _events(world, duplicate["id"], "merged") == [
        ("merged", {"into": survivor["id"]}, "agent:agent-1")
    ]
    assert _events(world, survivor["id"], "merged") == [
        ("merged", {"from": duplicate["id"]}, "agent:agent-1")
    ]
    assert _events(world, duplicate["id"], "opened")  # its history stays

    refused = world.post(f"/v1/cases/{duplicate['id']}/actions", json={"action": "note", "text": "x"})
    assert refused.status_code == 409
    unlink = world.client.delete(
        f"/v1/cases/{duplicate['id']}/links/{survivor['id']}", headers=world.auth("agent")
    )
    assert unlink.status_code == 409
    world.clock.advance(hours=30)
    assert world.get("/v1/audit/verify", who="auditor").json()["clean"] is True


@pytest.mark.parametrize(
    ("target", "status", "where"),
    [("self", 422, "/case_id"), ("cs_nope", 422, "/case_id"), ("merged", 409, None)],
)
def test_merge_into_needs_another_live_case(
    world: ApiWorld, target: str, status: int, where: str | None
) -> None:
    case, other = world.open_case(), world.open_case()
    survivor = {"self": case["id"], "cs_nope": "cs_nope"}.get(target)
    if target == "merged":
        into = {"action": "merge_into", "case_id": world.open_case()["id"]}
        assert world.post(f"/v1/cases/{other['id']}/actions", json=into).status_code == 200
        survivor = other["id"]

    response = world.post(
        f"/v1/cases/{case['id']}/actions", json={"action": "merge_into", "case_id": survivor}
    )

    assert response.status_code == status, response.text
    if where:
        assert response.json()["errors"][0]["pointer"] == where
    assert world.get(f"/v1/cases/{case['id']}").json()["status"] == "open"


def test_links_and_children_replay_clean_in_audit_verify(world: ApiWorld) -> None:
    parent = world.open_case()
    child = _child(world, parent["id"])
    other = world.open_case()
    world.post(f"/v1/cases/{parent['id']}/links", json={"kind": "related", "case_id": other["id"]})
    world.clock.advance(minutes=40)
    world.act(child["id"], "reply", message="We are on it")
    world.act(child["id"], "resolve")
    world.act(parent["id"], "resolve")
    world.client.delete(f"/v1/cases/{parent['id']}/links/{other['id']}", headers=world.auth("agent"))

    report = world.get("/v1/audit/verify", who="auditor").json()

    assert report["clean"] is True, report
    assert report["cases_checked"] == 3


WAVE = replace(make_policy(), id="partner-wave", incident_type="partner_wave", on_child_breach="escalate")


def test_a_childs_breach_escalates_a_parent_whose_policy_says_so(world: ApiWorld) -> None:
    register(world.engine, WAVE, now=T0 - timedelta(days=1))
    escalating = world.open_case(incident_type="partner_wave")
    quiet = world.open_case()  # account_compromised: no on_child_breach
    loud_child = _child(world, escalating["id"])
    quiet_child = _child(world, quiet["id"])
    world.clock.advance(minutes=61)  # the children's first response (P2: 1 h) is missed

    world.act(loud_child["id"], "note", text="still looking")
    world.act(quiet_child["id"], "note", text="still looking")

    parent = world.get(f"/v1/cases/{escalating['id']}").json()
    assert (parent["stage"]["id"], parent["escalations"]) == ("security", 1)
    [escalated] = [
        e
        for e in world.get(f"/v1/cases/{escalating['id']}/events").json()["items"]
        if e["kind"] == "escalated"
    ]
    assert escalated["actor"] == "system:child-breach"
    assert escalated["data"]["reason"] == f"child case {loud_child['id']} breached first_response"
    assert world.get(f"/v1/cases/{quiet['id']}").json()["stage"]["id"] == "frontline"
    assert world.get("/v1/audit/verify", who="auditor").json()["clean"] is True
