"""Creator links: given once at opening, found only by hash, rotated by an agent, dead 30 days after
closing; never in events, outbox rows or exports."""

from __future__ import annotations

import hashlib

import pytest
from sqlmodel import Session, select

from casework.creator import links
from casework.errors import StatusLinkNotFound
from models.creator_tables import CreatorLink
from models.tables import CaseEvent, Notification
from tests.api.conftest import ApiWorld
from tests.creator.conftest import CREATOR_ATTRIBUTES, token_of


def _resolves(api: ApiWorld, token: str) -> bool:
    with Session(api.engine) as session:
        try:
            links.resolve(session, token, api.clock.now)
        except StatusLinkNotFound:
            return False
        return True


def test_opening_a_case_answers_an_absolute_link_stored_only_as_a_hash(creator_api: ApiWorld) -> None:
    case = creator_api.open_case(CREATOR_ATTRIBUTES)

    link = case["creator_link"]
    token = token_of(link)
    assert link == f"http://127.0.0.1:8000/status/{token}"
    with Session(creator_api.engine) as session:
        row = session.exec(select(CreatorLink).where(CreatorLink.case_id == case["id"])).one()
        events = session.exec(select(CaseEvent)).all()
        outbox = session.exec(select(Notification)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.model_dump_json()
    assert all(token not in e.model_dump_json() for e in events)
    assert all(token not in n.model_dump_json() for n in outbox)
    assert "creator_link" not in creator_api.get(f"/v1/cases/{case['id']}").json()
    export = creator_api.get("/v1/audit/export", who="auditor")
    assert export.status_code == 200 and token not in export.text


def test_public_url_sets_the_links_base(creator_api: ApiWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFELINE_PUBLIC_URL", "https://help.example.com/")
    case = creator_api.open_case(CREATOR_ATTRIBUTES)
    assert case["creator_link"].startswith("https://help.example.com/status/")


def test_rotating_kills_the_old_link_at_once_and_records_who_did_it(creator_api: ApiWorld) -> None:
    case = creator_api.open_case(CREATOR_ATTRIBUTES)
    old = token_of(case["creator_link"])

    response = creator_api.post(f"/v1/cases/{case['id']}/creator-link")

    assert response.status_code == 200, response.text
    new = token_of(response.json()["creator_link"])
    assert new != old
    assert (_resolves(creator_api, old), _resolves(creator_api, new)) == (False, True)
    assert creator_api.client.get(f"/status/{old}").status_code == 404
    assert creator_api.client.get(f"/status/{new}").status_code == 200
    events = creator_api.get(f"/v1/cases/{case['id']}/events").json()["items"]
    rotated = [e for e in events if e["kind"] == "creator_link_rotated"]
    assert [(e["actor"], e["data"]) for e in rotated] == [("agent:agent-1", {"rotations": 1})]
    assert all(new not in str(e) and old not in str(e) for e in events)
    verify = creator_api.get("/v1/audit/verify", who="auditor").json()
    assert verify["clean"] is True, verify


def test_only_agents_rotate_and_unknown_cases_are_404(creator_api: ApiWorld) -> None:
    case = creator_api.open_case(CREATOR_ATTRIBUTES)
    assert creator_api.post(f"/v1/cases/{case['id']}/creator-link", who="auditor").status_code == 403
    assert creator_api.post(f"/v1/cases/{case['id']}/creator-link", who=None).status_code == 401
    missing = creator_api.post("/v1/cases/cs_nope/creator-link")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_a_link_works_until_30_days_after_the_case_is_closed(creator_api: ApiWorld) -> None:
    case = creator_api.open_case(CREATOR_ATTRIBUTES)
    token = token_of(case["creator_link"])
    creator_api.act(case["id"], "resolve")
    creator_api.clock.advance(days=2)
    creator_api.act(case["id"], "close")

    creator_api.clock.advance(days=30, seconds=-1)
    assert _resolves(creator_api, token)
    creator_api.clock.advance(seconds=1)
    assert not _resolves(creator_api, token)
    assert creator_api.client.get(f"/status/{token}").status_code == 404


def test_malformed_and_unknown_tokens_are_not_found(creator_api: ApiWorld) -> None:
    creator_api.open_case(CREATOR_ATTRIBUTES)
    for token in ("x", "A" * 43, "A" * 42 + "!", "A" * 200):
        assert not _resolves(creator_api, token)


def test_an_idempotent_retry_does_not_give_the_link_again(creator_api: ApiWorld) -> None:
    body = {"incident_type": "account_compromised", "attributes": CREATOR_ATTRIBUTES}
    first = creator_api.post("/v1/cases", json=body, headers={"Idempotency-Key": "k-1"})
    again = creator_api.post("/v1/cases", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201 and first.json()["creator_link"]
    assert again.status_code == 200 and again.json()["creator_link"] is None


def test_a_merged_cases_link_leads_the_creator_to_the_survivor(creator_api: ApiWorld) -> None:
    survivor = creator_api.open_case(CREATOR_ATTRIBUTES)
    duplicate = creator_api.open_case(CREATOR_ATTRIBUTES)
    token = token_of(duplicate["creator_link"])

    merge = {"action": "merge_into", "case_id": survivor["id"]}
    assert creator_api.post(f"/v1/cases/{duplicate['id']}/actions", json=merge).status_code == 200

    with Session(creator_api.engine) as session:
        assert links.resolve(session, token, creator_api.clock.now).id == survivor["id"]
    assert creator_api.client.get(f"/status/{token}").status_code == 200
