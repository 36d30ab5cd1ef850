"""Policy language v2 through the database: the worker fires next-reply cycles, on_warn notices and
expiring pauses exactly once however often it sweeps, and ``audit verify`` replays them clean
(SQLite and PostgreSQL, through the ``engine`` fixture)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from casework.cases.lifecycle import apply_action, open_case
from casework.reports.compliance_report import GroupBy, compliance_report
from models.db import session_scope
from models.tables import CaseEvent, Notification
from policies.loader import check_policy_document
from policies.model import Policy
from sla_engine.kinds import SYSTEM_ACTOR, Status
from tests.audit.conftest import run_verify, sweep
from tests.casework.builders import CREATOR, T0, at, register

DOC: dict[str, Any] = {
    "id": "v2-replay",
    "title": "v2 replay",
    "incident_type": "account_compromised",
    "calendar": "always",
    "priority": {"default": "P2"},
    "clocks": {
        "first_response": {"target": "PT1H", "stops_on": ["acknowledge", "reply", "request_info"]},
        "next_reply": {
            "kind": "next_reply",
            "target": "PT1H",
            "warn_at": 0.5,
            "on_warn": [{"notify": "team-lead"}],
        },
        "resolution": {"target": "PT8H", "pauses_on": ["waiting_on_creator"]},
    },
    "stages": [{"id": "frontline", "queue": "creator-support"}],
}


def v2_policy() -> Policy:
    result = check_policy_document(DOC, "v2-replay.json")
    assert result.value is not None, result.diagnostics
    return result.value


def _act(
    engine: Engine, case_id: str, name: str, minutes: float, actor: str = "agent:ana", **args: Any
) -> None:
    with session_scope(engine) as session:
        apply_action(session, case_id, name, args, actor, at(minutes))


def _events(engine: Engine, case_id: str) -> list[CaseEvent]:
    with session_scope(engine, write=False) as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)  # type: ignore[arg-type]
        return list(session.exec(query))


def test_cycles_warnings_and_expiring_pauses_fire_once_and_replay_clean(engine: Engine) -> None:
    register(engine, v2_policy(), now=T0 - timedelta(days=1))
    with session_scope(engine) as session:
        case_id = open_case(
            session, incident_type="account_compromised", attributes=CREATOR, actor="agent:ana", now=T0
        ).case.id
    _act(engine, case_id, "reply", 10, message="We are on it.")  # first response, cycle 1 met
    _act(engine, case_id, "creator_replied", 20, actor="creator", message="Still locked out")  # cycle 2
    for minutes in (55, 55, 85, 85):  # warn at 50, breach at 80; every timer once however often swept
        sweep(engine, [case_id], at(minutes))
    until = at(160).isoformat()
    _act(engine, case_id, "request_info", 100, until=until)  # ends cycle 2 (late)
    for minutes in (170, 170, 175):
        sweep(engine, [case_id], at(minutes))

    events = _events(engine, case_id)
    timed = [(e.kind, e.at, e.dedupe_key) for e in events if e.dedupe_key and "/" not in e.dedupe_key]
    assert timed == [
        ("at_risk", at(50), "at_risk:clock:next_reply:2"),
        ("breached", at(80), "breached:clock:next_reply:2"),
        ("pause_expired", at(160), f"pause_expired:{until}"),
    ]
    notified = [e for e in events if e.kind == "notified"]
    assert [(e.at, e.data["channel"]) for e in notified] == [(at(50), "team-lead")]
    with session_scope(engine, write=False) as session:
        outbox = list(session.exec(select(Notification).where(Notification.case_id == case_id)))
    assert len(outbox) == 1
    resumed = [e for e in events if e.kind == "status_changed" and e.actor == SYSTEM_ACTOR]
    assert [(e.at, e.data["to"], e.dedupe_key) for e in resumed] == [
        (at(160), "in_progress", f"pause_expired:{until}/0")
    ]

    report = run_verify(engine, at(180), case_id=case_id)
    assert report.clean, [f.to_dict() for f in report.findings + report.chain_problems]
    assert report.overdue == []

    # The compliance report counts the next-reply cycles: two decided, one missed.
    with session_scope(engine, write=False) as session:
        compliance = compliance_report(session, at(-1), at(200), GroupBy.INCIDENT_TYPE)
    [group] = compliance["groups"]
    next_reply = group["clocks"]["next_reply"]
    assert (next_reply["cycles"], next_reply["missed_cycles"], next_reply["breached"]) == (2, 1, 1)
    assert (group["clocks"]["first_response"]["cycles"], group["clocks"]["first_response"]["met"]) == (0, 1)


def test_a_case_opened_waiting_on_the_creator_replays_clean(engine: Engine) -> None:
    register(engine, v2_policy(), now=T0 - timedelta(days=1))
    with session_scope(engine) as session:
        change = open_case(
            session,
            incident_type="account_compromised",
            attributes=CREATOR,
            actor="agent:ana",
            now=T0,
            status=Status.WAITING_ON_CREATOR,
        )
    case_id = change.case.id
    assert change.case.status == "waiting_on_creator"
    _act(engine, case_id, "acknowledge", 5)  # the first response, recorded while waiting
    _act(engine, case_id, "creator_replied", 30, actor="creator")
    sweep(engine, [case_id], at(95))

    kinds = [e.kind for e in _events(engine, case_id)]
    assert kinds[:2] == ["opened", "paused"] and "acknowledged" in kinds
    report = run_verify(engine, at(100), case_id=case_id)
    assert report.clean, [f.to_dict() for f in report.findings + report.chain_problems]
