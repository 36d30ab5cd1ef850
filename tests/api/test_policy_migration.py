"""Policy migration of open cases over HTTP (POST /v1/policies/{id}/migrations): a dry run first,
then one policy_migrated event per case with its deadlines before and after, replayed clean by the
audit; keep, recompute, --where narrowing, stale cases, and the errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from casework.cases.lifecycle import open_case
from models.db import session_scope
from tests.api.conftest import ApiWorld
from tests.audit.tampering import change_field, reseal, seq_of
from tests.casework.builders import CREATOR, T0, register
from tests.engine.builders import PARTNER_RULE, make_policy

URL = "/v1/policies/test-policy/migrations"
STANDARD = {**CREATOR, "creator": {**CREATOR["creator"], "tier": "standard"}, "impact": {"monetized": False}}


def _stricter(engine: Engine) -> None:
    """Version 2: every first response and resolution target halved (P1 15m -> 5m, P2 1h -> 30m...)."""
    policy = make_policy(
        rules=[PARTNER_RULE],
        first_response={"P1": "PT5M", "P2": "PT30M", "P3": "PT2H"},
        resolution={"P1": "PT4H", "P2": "PT12H", "P3": "P1D"},
    )
    register(engine, policy, now=T0 - timedelta(hours=1))


def _migrate(api: ApiWorld, body: dict[str, Any], expect: int = 200) -> dict[str, Any]:
    response = api.post(URL, who="admin", json=body)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def _open_many(engine: Engine, count: int, attributes: dict[str, Any], now: datetime) -> list[str]:
    with session_scope(engine) as session:
        return [
            open_case(
                session,
                incident_type="account_compromised",
                attributes=attributes,
                actor="agent:ana",
                now=now,
            ).case.id
            for _ in range(count)
        ]


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="microseconds")


def test_a_stricter_version_rebases_1000_open_cases_dry_run_first(api: ApiWorld) -> None:
    ids = _open_many(api.engine, 1000, STANDARD, T0)
    _stricter(api.engine)
    api.clock.advance(minutes=10)

    dry = _migrate(api, {"to": 2, "mode": "rebase", "dry_run": True})

    assert dry["dry_run"] is True and dry["total"] == 1000 and dry["counts"]["migrated"] == 1000
    first = dry["results"][0]
    assert (first["from"], first["to"]) == (1, 2)
    assert first["before"]["clocks"] == {
        "first_response": _iso(T0 + timedelta(hours=1)),
        "resolution": _iso(T0 + timedelta(days=1)),
    }
    assert first["after"]["clocks"] == {
        "first_response": _iso(T0 + timedelta(minutes=30)),
        "resolution": _iso(T0 + timedelta(hours=12)),
    }
    assert api.get(f"/v1/cases/{ids[0]}").json()["policy"]["version"] == 1
    assert "policy_migrated" not in _kinds(api, ids[0])

    done = _migrate(api, {"to": 2, "mode": "rebase"})

    assert done["dry_run"] is False and done["counts"]["migrated"] == 1000
    assert [r["after"] for r in done["results"]] == [r["after"] for r in dry["results"]]
    case = api.get(f"/v1/cases/{ids[-1]}").json()
    assert case["policy"]["version"] == 2
    clocks = {c["name"]: c["due_at"] for c in case["clocks"]}
    assert clocks["first_response"].startswith("2026-03-02T09:30:00")
    migrated = [e for e in _events(api, ids[-1]) if e["kind"] == "policy_migrated"]
    assert len(migrated) == 1 and migrated[0]["actor"].startswith("admin")
    assert migrated[0]["data"]["mode"] == "rebase" and migrated[0]["data"]["to"] == 2
    assert migrated[0]["data"]["before"]["clocks"]["resolution"] == _iso(T0 + timedelta(days=1))
    listed = {p["id"]: p for p in api.get("/v1/policies").json()}
    assert listed["test-policy"]["open_cases"] == 1000
    report = api.get("/v1/audit/verify", who="auditor").json()
    assert report["clean"] is True, report["replay_findings"][:3]
    assert report["cases_checked"] == 1000


def _events(api: ApiWorld, case_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/v1/cases/{case_id}/events?limit=200").json()["items"]
    return items


def _kinds(api: ApiWorld, case_id: str) -> list[str]:
    return [e["kind"] for e in _events(api, case_id)]


def test_recompute_replays_an_acknowledged_and_paused_history_and_the_audit_agrees(api: ApiWorld) -> None:
    case = api.open_case(STANDARD)
    api.clock.advance(minutes=40)
    api.act(case["id"], "acknowledge")
    api.clock.advance(minutes=10)
    api.act(case["id"], "request_info")
    api.clock.advance(minutes=60)
    api.act(case["id"], "creator_replied")
    _stricter(api.engine)
    api.clock.advance(minutes=10)

    answer = _migrate(api, {"to": "test-policy:2", "mode": "recompute"})

    assert answer["counts"]["migrated"] == 1
    after = answer["results"][0]["after"]
    # Resolution: 12 h of working time, the hour waiting on the creator left out.
    assert after["clocks"]["resolution"] == _iso(T0 + timedelta(hours=13))
    # Under version 2 the first response (30 min) was missed at 09:30: recorded now, at its instant.
    breach = next(e for e in _events(api, case["id"]) if e["kind"] == "breached")
    assert breach["at"].startswith("2026-03-02T09:30:00") and breach["recorded_at"] > breach["at"]
    kinds = _kinds(api, case["id"])
    assert kinds.index("breached") < kinds.index("policy_migrated")
    assert [b["target"] for b in api.get("/v1/breaches", who="auditor").json()["items"]] == ["first_response"]
    assert api.get("/v1/audit/verify", who="auditor").json()["clean"] is True

    seq = seq_of(api.engine, case["id"], "policy_migrated")
    tampered = {**answer["results"][0]["after"], "next_deadline_at": None}
    event = next(e for e in _events(api, case["id"]) if e["seq"] == seq)
    change_field(api.engine, case["id"], seq, data={**event["data"], "after": tampered})
    reseal(api.engine, case["id"])
    report = api.get("/v1/audit/verify", who="auditor").json()
    assert report["clean"] is False
    assert [f["problem"] for f in report["replay_findings"]] == ["different"]


def test_keep_and_the_version_already_pinned_leave_cases_unchanged(api: ApiWorld) -> None:
    case = api.open_case()
    _stricter(api.engine)

    kept = _migrate(api, {"to": 2, "mode": "keep"})
    same = _migrate(api, {"to": 1, "mode": "rebase"})

    for answer in (kept, same):
        assert answer["counts"]["unchanged"] == 1 and answer["total"] == 1
        assert answer["results"][0]["before"] == answer["results"][0]["after"]
    assert api.get(f"/v1/cases/{case['id']}").json()["version"] == 1
    assert "policy_migrated" not in _kinds(api, case["id"])


def test_where_narrows_to_the_cases_it_selects_and_only_open_ones(api: ApiWorld) -> None:
    partners = [api.open_case()["id"] for _ in range(3)]  # P1
    standard = [api.open_case(STANDARD)["id"] for _ in range(2)]  # P2
    api.act(partners[0], "resolve")
    _stricter(api.engine)

    answer = _migrate(api, {"to": 2, "mode": "rebase", "where": {"priority": "P1"}})

    assert sorted(r["case_id"] for r in answer["results"]) == sorted(partners[1:])
    assert all("policy_migrated" not in _kinds(api, c) for c in [*standard, partners[0]])
    refused = _migrate(api, {"to": 2, "mode": "rebase", "where": {"status": ["resolved"]}}, 422)
    assert refused["errors"][0]["pointer"] == "/status"


def test_a_case_that_moved_since_it_was_selected_is_reported_stale(api: ApiWorld) -> None:
    moved, fresh = api.open_case(), api.open_case()
    api.act(moved["id"], "note", text="someone got there first")
    _stricter(api.engine)
    cases = [{"id": c["id"], "version": 1} for c in (moved, fresh)] + [{"id": "cs_none", "version": 1}]

    answer = _migrate(api, {"to": 2, "mode": "rebase", "cases": cases})

    assert [(r["case_id"], r["result"]) for r in answer["results"]] == [
        (moved["id"], "stale"),
        (fresh["id"], "migrated"),
        ("cs_none", "not_found"),
    ]
    assert api.get(f"/v1/cases/{moved['id']}").json()["version"] == 2  # the note only


def test_unknown_policies_and_versions_and_other_policies_versions_are_refused(api: ApiWorld) -> None:
    assert api.post("/v1/policies/nope/migrations", who="admin", json={"to": 1}).status_code == 404
    missing = _migrate(api, {"to": 7, "mode": "rebase"}, 404)
    assert "version 7" in missing["detail"]
    other = _migrate(api, {"to": "other-policy:1", "mode": "rebase"}, 422)
    assert other["errors"][0]["pointer"] == "/to" and "other-policy" in other["detail"]
    assert _migrate(api, {"to": 0, "mode": "rebase"}, 422)["errors"][0]["pointer"] == "/to"
    bad_mode = _migrate(api, {"to": 1, "mode": "shuffle"}, 422)
    assert bad_mode["errors"][0]["pointer"] == "/mode"
    assert api.post(URL, who="agent", json={"to": 1}).status_code == 403
