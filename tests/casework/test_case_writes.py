"""A case opened weeks in the past (hundreds of timers replayed at once, a notification repeated every
two hours) is stored row for row as the engine decided: events in order with their dedupe keys, the
chain sealed onto each, a breach per ``breached`` event, an outbox row per ``notified`` event, and
``lifeline audit verify`` finds nothing to report; an action on it continues the chain."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from casework.cases.lifecycle import apply_action, open_case
from casework.history.hashchain import GENESIS_HASH, compute_hash, normalize_json, verify_chain
from casework.registry import policy_registry
from cli.main import app
from models.db import session_scope
from models.kinds import BreachTarget, NotificationStatus
from models.tables import Breach, Case, CaseEvent, Notification
from policies.model import Policy, StageSpec
from sla_engine import cases as engine_cases
from sla_engine.kinds import EventKind
from sla_engine.state import state_to_dict
from tests.casework.builders import CREATOR, T0, register
from tests.engine.builders import PARTNER_RULE, duration, make_policy, notify, target

OPENED = T0 - timedelta(days=21)
ACTOR = "agent:ana"


def _audit_verify(db_url: str, case_id: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["audit", "verify", "--case", case_id], env={"LIFELINE_DATABASE_URL": db_url}
    )
    return result.exit_code, result.stdout


def test_a_case_opened_weeks_ago_is_stored_as_the_engine_decided(
    engine: Engine, session: Session, db_url: str
) -> None:
    register(engine, make_policy(rules=[PARTNER_RULE]), now=OPENED - timedelta(days=1))
    with session_scope(engine) as s:
        change = open_case(
            s, incident_type="account_compromised", attributes=CREATOR, actor=ACTOR, now=T0, opened_at=OPENED
        )
        policy, calendar = policy_registry.get_policy(s, change.case.policy_id, change.case.policy_version)
    case_id = change.case.id
    step = engine_cases.open_case(policy, calendar, CREATOR, OPENED, ACTOR)
    advanced = engine_cases.advance(policy, calendar, step.state, T0)
    decided = list(step.events) + list(advanced.events)

    events = list(
        session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq)))
    )
    assert [(e.seq, e.kind, e.at, e.actor, e.data, e.dedupe_key) for e in events] == [
        (seq, d.kind, d.at, d.actor, normalize_json(d.data), d.dedupe_key) for seq, d in enumerate(decided, 1)
    ]
    assert all(e.recorded_at == T0 and e.policy_version == 1 for e in events)
    prev = GENESIS_HASH
    for event in events:
        assert event.prev_hash == prev and event.hash == compute_hash(event)
        prev = event.hash
    assert [(e.seq, e.kind, e.hash) for e in change.events] == [(e.seq, e.kind, e.hash) for e in events]

    stored = session.get(Case, case_id)
    assert stored is not None
    assert (stored.version, stored.last_seq, stored.opened_at) == (1, len(events), OPENED)
    assert stored.state == normalize_json(state_to_dict(advanced.state))
    assert stored.next_deadline_at == advanced.state.next_deadline_at

    by_seq = {e.seq: e for e in events}
    notes = list(session.exec(select(Notification).order_by(col(Notification.id))))
    notified = [e for e in events if e.kind is EventKind.NOTIFIED and e.data.get("channel")]
    # Repeated reminders already overdue are collapsed: per channel and stage only the latest is
    # queued; every other notification is.
    reminders = [e for e in notified if "repeat" in e.data]
    last_reminder = {(e.data["channel"], e.data["stage"]): e.seq for e in reminders}
    assert len(reminders) > 50
    assert [n.event_seq for n in notes] == [
        e.seq
        for e in notified
        if "repeat" not in e.data or last_reminder[(e.data["channel"], e.data["stage"])] == e.seq
    ]
    assert (
        max(sum(1 for e in notified if e.data["channel"] == c) for c in {e.data["channel"] for e in notified})
        > 50
    )
    for note in notes:
        event = by_seq[note.event_seq]
        assert note.channel == event.data["channel"] and note.payload["event"] == event.data
        assert note.payload["at"] == event.at.isoformat(timespec="microseconds")
        assert note.payload["case"]["stage"] == stored.stage
        # The queued reminder counts the earlier ones of its channel and stage it stands for.
        key = (event.data["channel"], event.data.get("stage"))
        left_unsent = sum(1 for e in reminders if (e.data["channel"], e.data["stage"]) == key) - 1
        assert note.payload.get("superseded") == (
            left_unsent if "repeat" in event.data and left_unsent else None
        )
        assert (note.status, note.attempts, note.next_attempt_at, note.created_at) == (
            NotificationStatus.PENDING,
            0,
            T0,
            T0,
        )
    breaches = list(session.exec(select(Breach).order_by(col(Breach.event_seq))))
    assert [(b.event_seq, b.due_at, b.detected_at) for b in breaches] == [
        (e.seq, e.at, T0) for e in events if e.kind is EventKind.BREACHED
    ]
    assert breaches and all(b.target_type in (BreachTarget.CLOCK, BreachTarget.STAGE) for b in breaches)

    assert verify_chain(session) == []
    assert _audit_verify(db_url, case_id)[0] == 0

    with session_scope(engine) as s:
        acted = apply_action(s, case_id, "acknowledge", {}, ACTOR, T0 + timedelta(minutes=1), 1)
    assert acted.case.version == 2 and acted.events[0].seq == len(events) + 1
    assert acted.events[0].prev_hash == events[-1].hash
    session.expire_all()
    assert verify_chain(session) == []
    code, out = _audit_verify(db_url, case_id)
    assert code == 0, out


def _opened_weeks_ago(engine: Engine, policy: Policy) -> str:
    register(engine, policy, now=OPENED - timedelta(days=1))
    with session_scope(engine) as s:
        change = open_case(
            s, incident_type="account_compromised", attributes=CREATOR, actor=ACTOR, now=T0, opened_at=OPENED
        )
    return change.case.id


def test_overdue_reminders_on_two_channels_each_queue_their_latest(engine: Engine, session: Session) -> None:
    """The last stage pages two channels; weeks of reminders caught up in one write leave one
    reminder per channel (not one for both), each counting its own channel's earlier ones."""
    stages = (
        StageSpec("frontline", "creator-support", target("PT30M")),
        StageSpec(
            "lead",
            "tns-leads",
            None,
            on_enter=(notify("tns-leads"), notify("duty-manager")),
            repeat_notify_every=duration("PT2H"),
        ),
    )
    case_id = _opened_weeks_ago(engine, make_policy(stages=stages))

    events = {e.seq: e for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id))}
    notes = list(session.exec(select(Notification).order_by(col(Notification.id))))
    reminders = [n for n in notes if "repeat" in events[n.event_seq].data]
    repeats = {
        c: [e for e in events.values() if e.data.get("repeat") and e.data["channel"] == c]
        for c in ("tns-leads", "duty-manager")
    }
    assert len(repeats["tns-leads"]) == len(repeats["duty-manager"]) > 200
    assert [(n.channel, n.event_seq, n.payload["superseded"]) for n in reminders] == [
        (c, max(e.seq for e in repeats[c]), len(repeats[c]) - 1) for c in ("tns-leads", "duty-manager")
    ]


def test_a_breach_row_keeps_the_priority_and_queue_the_case_had_when_it_breached(
    engine: Engine, session: Session
) -> None:
    """A P2 case left for weeks breaches at P2 in the frontline queue, then its last stage raises it
    to P1 in another queue: the breach rows report what the case was when each deadline passed
    (the compliance report counts them so), not what it is now."""
    case_id = _opened_weeks_ago(engine, make_policy())

    stored = session.get(Case, case_id)
    assert stored is not None and (stored.priority, stored.queue) == ("P1", "tns-leads")
    breached = {
        e.seq: e
        for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id))
        if e.kind is EventKind.BREACHED
    }
    breaches = list(session.exec(select(Breach).order_by(col(Breach.event_seq))))
    assert [(b.event_seq, b.priority, b.queue) for b in breaches] == [
        (seq, e.data["priority"], e.data["queue"]) for seq, e in sorted(breached.items())
    ]
    assert ("P2", "creator-support") in {(b.priority, b.queue) for b in breaches}
