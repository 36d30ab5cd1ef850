"""Auditor routes over HTTP: breaches with every filter and paging, compliance, export, verify."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import delete, text, update
from sqlmodel import col

from casework.audit.digests import create_signing_key, latest_digest, load_signing_key, write_digest
from models.db import session_scope
from models.tables import Case, CaseEvent
from tests.api.conftest import ApiWorld


def _breached_world(api: ApiWorld) -> list[str]:
    """Three P1 cases opened at 09:00; the one acknowledged at 09:10 breaches nothing. At 09:31 an
    action on each of the others fires first_response (09:15) and frontline (09:30) breaches."""
    ids = [api.open_case()["id"] for _ in range(3)]
    api.clock.advance(minutes=10)
    api.act(ids[0], "acknowledge")
    api.clock.advance(minutes=21)
    for case_id in ids[1:]:
        api.act(case_id, "note", text="still looking")
    return ids


def test_breaches_carry_case_target_deadline_detection_lateness_and_policy_version(api: ApiWorld) -> None:
    ids = _breached_world(api)

    page = api.get("/v1/breaches", who="auditor", params={"limit": 3}).json()
    rest = api.get(page["next"], who="auditor").json()

    items = page["items"] + rest["items"]
    assert len(page["items"]) == 3 and rest["next"] is None and len(items) == 4
    assert [(b["due_at"][11:16], b["target"]) for b in items] == [
        ("09:15", "first_response"),
        ("09:15", "first_response"),
        ("09:30", "frontline"),
        ("09:30", "frontline"),
    ]
    first = items[0]
    assert first["case_id"] in ids[1:] and first["target_type"] == "clock" and first["priority"] == "P1"
    assert first["detected_at"][11:16] == "09:31" and first["lateness_seconds"] == 16 * 60
    assert first["policy_version"] == 1 and first["queue"] == "creator-support"


def test_breach_filters_by_queue_stage_clock_and_period(api: ApiWorld) -> None:
    _breached_world(api)

    def count(**params: str) -> int:
        return len(api.get("/v1/breaches", who="auditor", params=params).json()["items"])

    assert count(queue="creator-support") == 4 and count(queue="tns-leads") == 0
    assert count(stage="frontline") == 2 and count(clock="first_response") == 2
    assert count(since="2026-03-02T09:20:00Z") == 2 and count(until="2026-03-02T09:20:00Z") == 2


def test_compliance_report_over_http(api: ApiWorld) -> None:
    _breached_world(api)
    params = {"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T10:00:00Z", "group_by": "priority"}

    report = api.get("/v1/reports/compliance", who="auditor", params=params).json()

    assert report["from"] == "2026-03-02T09:00:00Z" and report["group_by"] == "priority"
    [p1] = report["groups"]
    first = p1["clocks"]["first_response"]
    # One met (600 s), two breached and still running (no time): 1 of 3 = 33.33 %.
    assert (p1["cases"], first["met"], first["breached"], first["percent_met"]) == (3, 1, 2, 33.33)
    assert first["working_seconds"] == {"median": 600.0, "p90": 600.0}
    assert p1["escalations"] == {"security": 2} and p1["manual_escalations"] == {}


def test_compliance_from_rollups_exact_scan_and_by_assignee(api: ApiWorld) -> None:
    """A period of whole days is answered from the roll-ups (source and accuracy said);
    ``exact=true`` scans and gives the same counts; ``group_by=assignee`` is per agent, scanned."""
    ids = _breached_world(api)
    api.act(ids[1], "assign", assignee="ana")
    day = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}

    rolled = api.get("/v1/reports/compliance", who="auditor", params=day).json()
    exact = api.get("/v1/reports/compliance", who="auditor", params={**day, "exact": "true"}).json()
    by_assignee = api.get(
        "/v1/reports/compliance", who="auditor", params={**day, "group_by": "assignee"}
    ).json()

    assert (rolled["source"], rolled["relative_accuracy"]) == ("rollup", 0.01)
    assert (exact["source"], exact["relative_accuracy"]) == ("exact", 0.0)
    first = rolled["groups"][0]["clocks"]["first_response"]
    assert (
        (first["met"], first["breached"])
        == (1, 2)
        == tuple(exact["groups"][0]["clocks"]["first_response"][k] for k in ("met", "breached"))
    )
    # One stop of 600 s: its bin's value, within 1 %.
    assert abs(first["working_seconds"]["median"] - 600.0) <= 6.0
    assert by_assignee["source"] == "exact"
    assert [
        (g["key"], g["cases"], g["clocks"]["first_response"]["breached"]) for g in by_assignee["groups"]
    ] == [
        ("(unassigned)", 2, 1),
        ("ana", 1, 1),
    ]


def test_compliance_refuses_an_empty_period_and_agents(api: ApiWorld) -> None:
    params = {"from": "2026-03-02T10:00:00Z", "to": "2026-03-02T09:00:00Z"}
    response = api.get("/v1/reports/compliance", who="auditor", params=params)
    assert response.status_code == 422 and response.json()["errors"][0]["parameter"] == "from"
    assert api.get("/v1/reports/compliance", who="agent").status_code == 403


def test_export_streams_jsonl_and_csv_with_who_when_and_policy(api: ApiWorld) -> None:
    _breached_world(api)

    jsonl = api.get("/v1/audit/export", who="auditor")
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    csv_text = api.get("/v1/audit/export", who="auditor", params={"format": "csv"}).text

    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in jsonl.headers["content-disposition"]
    assert {r["actor"] for r in rows} == {"agent:agent-1", "system:escalation"}
    assert all(r["policy_id"] == "test-policy" and r["policy_version"] == 1 for r in rows)
    assert len(list(csv.DictReader(io.StringIO(csv_text)))) == len(rows)


def test_verify_is_clean_then_names_the_tampered_case_and_seq(api: ApiWorld) -> None:
    ids = _breached_world(api)
    assert api.get("/v1/audit/verify", who="auditor").json()["clean"] is True

    with session_scope(api.engine) as session:
        session.execute(
            text("UPDATE case_events SET actor = 'agent:eve' WHERE case_id = :c AND seq = 2"), {"c": ids[0]}
        )
    report = api.get("/v1/audit/verify", who="auditor").json()

    assert report["clean"] is False
    assert [(p["case_id"], p["seq"], p["problem"]) for p in report["chain_problems"]] == [
        (ids[0], 2, "hash_mismatch")
    ]
    one = api.get("/v1/audit/verify", who="auditor", params={"case_id": ids[1]}).json()
    assert one["clean"] is True and one["cases_checked"] == 1
    assert api.get("/v1/audit/verify", who="auditor", params={"case_id": "cs_x"}).status_code == 404


def _exported_digest(api: ApiWorld, key_dir: Path) -> dict[str, str]:
    """Sign the chain heads now, as the worker does, and export the digest as auditors keep it."""
    key_file = key_dir / "signing.pem"
    create_signing_key(key_file)
    with session_scope(api.engine) as session:
        write_digest(session, load_signing_key(key_file), api.clock())
        exported = latest_digest(session)
    assert exported is not None
    return exported


def test_verify_with_a_digest_names_the_case_cut_short_after_it(api: ApiWorld, tmp_path: Path) -> None:
    ids = _breached_world(api)
    digest = _exported_digest(api, tmp_path)
    before = api.post("/v1/audit/verify", who="auditor", json=digest)
    assert before.status_code == 200 and before.json()["digest_findings"] == []

    with session_scope(api.engine) as session:  # an intruder drops the last two events of one case
        cut = session.get(Case, ids[1])
        assert cut is not None
        kept = cut.last_seq - 2
        session.execute(delete(CaseEvent).where(col(CaseEvent.case_id) == ids[1], col(CaseEvent.seq) > kept))
        session.execute(update(Case).where(col(Case.id) == ids[1]).values(last_seq=kept))
    after = api.post("/v1/audit/verify", who="admin", json=digest).json()

    assert after["digest_findings"] == [
        {
            "case_id": ids[1],
            "problem": f"history truncated: it ends at seq {kept}, the digest has seq {kept + 2}",
        }
    ]
    # The shortened chain still holds; the report around the findings is the GET's.
    assert after["chain_problems"] == [] and after["cases_checked"] == 3
    assert {f["case_id"] for f in after["replay_findings"]} == {ids[1]}


def test_verify_refuses_a_tampered_or_malformed_digest_and_agents(api: ApiWorld, tmp_path: Path) -> None:
    api.open_case()
    digest = _exported_digest(api, tmp_path)
    tampered = {**digest, "body": digest["body"].replace('"seq":1', '"seq":9')}
    assert tampered["body"] != digest["body"]

    refused = api.post("/v1/audit/verify", who="auditor", json=tampered)
    missing = api.post("/v1/audit/verify", who="auditor", json={"body": digest["body"]})
    garbled = api.post("/v1/audit/verify", who="auditor", json={"body": "{}", "signature": "x"})

    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/invalid-digest"
    assert refused.json()["detail"] == "the digest's signature does not match its contents"
    assert missing.status_code == 422 and missing.json()["errors"][0]["pointer"] == "/signature"
    assert garbled.status_code == 422 and garbled.json()["detail"].startswith("not a Lifeline chain digest")
    assert api.post("/v1/audit/verify", who="agent", json=digest).status_code == 403
