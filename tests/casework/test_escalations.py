"""Applying due timers: events, breaches, outbox rows and the next deadline, exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from casework import api_keys
from casework.cases.escalations import apply_due_timers, claim_due_cases, claim_due_rows, next_deadline
from casework.cases.lifecycle import apply_action
from casework.errors import DuplicateTimedEvent
from casework.history.case_changes import write_case_change
from casework.history.hashchain import verify_chain
from models.db import session_scope
from models.kinds import BreachTarget, NotificationStatus, Role
from models.tables import Breach, Case, CaseEvent, Notification
from sla_engine.events import EngineEvent
from sla_engine.kinds import SYSTEM_ACTOR, EventKind
from tests.casework.builders import T0, at, open_one, register


def _count(session: Session, table: type) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def test_claim_returns_only_due_cases_earliest_first(engine: Engine) -> None:
    register(engine)
    later = open_one(engine, now=at(10)).case  # at risk at 10 + 45 min
    earlier = open_one(engine, now=at(0)).case  # at risk at 45 min
    with session_scope(engine) as s:
        assert claim_due_cases(s, at(44), limit=10) == []
        assert [c.id for c in claim_due_cases(s, at(60), limit=10)] == [earlier.id, later.id]
        assert [c.id for c in claim_due_cases(s, at(60), limit=1)] == [earlier.id]
        assert next_deadline(s) == at(45)


def test_due_timers_write_events_breaches_outbox_and_next_deadline_once(
    engine: Engine, session: Session
) -> None:
    register(engine)
    case = open_one(engine).case
    with session_scope(engine) as s:
        changes = apply_due_timers(s, claim_due_cases(s, at(130), limit=10), at(130))
    [change] = changes
    assert change.case.version == 2 and change.case.stage == "security"
    assert change.case.queue == "security-specialists"
    assert change.case.next_deadline_at == at(6 * 60)  # security escalates 4 h after 11:00
    assert [e.kind for e in change.events] == [
        EventKind.AT_RISK,
        EventKind.BREACHED,
        EventKind.NOTIFIED,
        EventKind.BREACHED,
        EventKind.ESCALATED,
        EventKind.NOTIFIED,
    ]
    assert all(e.recorded_at == at(130) and e.actor == SYSTEM_ACTOR and e.dedupe_key for e in change.events)
    breaches = session.exec(select(Breach).order_by(col(Breach.due_at))).all()
    assert [(b.target_type, b.target, b.due_at, b.event_seq) for b in breaches] == [
        (BreachTarget.CLOCK, "first_response", at(60), 3),
        (BreachTarget.STAGE, "frontline", at(120), 5),
    ]
    notes = session.exec(select(Notification).order_by(col(Notification.event_seq))).all()
    assert [(n.channel, n.status, n.next_attempt_at) for n in notes] == [
        ("support-leads", NotificationStatus.PENDING, at(130)),
        ("security-oncall", NotificationStatus.PENDING, at(130)),
    ]
    assert notes[1].payload["case_id"] == case.id and notes[1].payload["case"]["stage"] == "security"

    with session_scope(engine) as s:  # the same sweep again: nothing more is due
        assert apply_due_timers(s, claim_due_cases(s, at(130), limit=10), at(130)) == []
        assert apply_due_timers(s, [case.id], at(130)) == []
    assert (
        _count(session, CaseEvent) == 7
        and _count(session, Breach) == 2
        and _count(session, Notification) == 2
    )
    assert verify_chain(session) == []


def test_a_duplicate_dedupe_key_is_never_written(engine: Engine, session: Session) -> None:
    register(engine)
    case = open_one(engine).case
    with session_scope(engine) as s:
        apply_due_timers(s, [case.id], at(61))
    again = EngineEvent(
        EventKind.BREACHED, at(60), SYSTEM_ACTOR, {"clock": "first_response"}, "breached:clock:first_response"
    )
    with pytest.raises(DuplicateTimedEvent) as err, session_scope(engine) as s:
        stored = s.get(Case, case.id)
        assert stored is not None
        write_case_change(s, stored, None, [again], at(62))
    assert err.value.case_id == case.id  # the worker's log says which case was already escalated
    assert _count(session, Breach) == 1
    assert session.exec(select(func.count()).where(CaseEvent.dedupe_key == again.dedupe_key)).one() == 1


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_workers_on_postgres_skip_cases_another_worker_holds(engine: Engine) -> None:
    register(engine)
    first = open_one(engine, now=T0).case
    second = open_one(engine, now=at(1)).case
    with session_scope(engine) as a, session_scope(engine) as b:
        assert [c.id for c in claim_due_cases(a, at(60), limit=1)] == [first.id]
        assert [c.id for c in claim_due_cases(b, at(60), limit=10)] == [second.id]


def test_claim_orders_by_deadline_then_id_not_by_opening(engine: Engine) -> None:
    register(engine)
    opened_first = open_one(engine, now=at(0)).case.id  # at risk at 45 min
    twins = sorted(open_one(engine, now=at(10)).case.id for _ in range(2))  # at risk at 55 min
    with session_scope(engine) as s:
        [change] = apply_due_timers(s, [opened_first], at(50))
        assert change.case.next_deadline_at == at(60)  # now due after the twins
    with session_scope(engine) as s:
        assert [c.id for c in claim_due_cases(s, at(55), limit=10)] == twins  # due at ``now`` itself
        assert [c.id for c in claim_due_cases(s, at(70), limit=10)] == [*twins, opened_first]
        assert [c.id for c in claim_due_cases(s, at(70), limit=1)] == twins[:1]


def test_a_claimed_case_with_nothing_due_gets_its_true_deadline_back(
    engine: Engine, session: Session
) -> None:
    register(engine)
    case = open_one(engine).case
    with session_scope(engine) as s:  # the index is out of date: it says due at 30 min (truly 45)
        s.exec(update(Case).where(col(Case.id) == case.id).values(next_deadline_at=at(30)))
    with session_scope(engine) as s:
        claimed = claim_due_cases(s, at(40), limit=10)
        assert [c.id for c in claimed] == [case.id]
        assert apply_due_timers(s, claimed, at(40)) == []
        assert claimed[0].next_deadline_at == at(45)  # the row reads as now stored
    with session_scope(engine) as s:
        assert claim_due_cases(s, at(40), limit=10) == []
        stored = s.get(Case, case.id)
        assert stored is not None
        assert (stored.next_deadline_at, stored.version, stored.last_seq) == (
            at(45),
            case.version,
            case.last_seq,
        )


def test_the_sweeps_plain_rows_claim_what_the_orm_claims_and_read_as_stored_after(engine: Engine) -> None:
    """The sweep claims plain rows (no ORM objects): the same cases, the same column values, and
    after the batch each row holds what was written, with nothing left for a session to flush."""
    register(engine)
    later, earlier = open_one(engine, now=at(10)).case.id, open_one(engine, now=at(0)).case.id
    with session_scope(engine, write=False) as s:
        orm = [(c.id, *(getattr(c, n) for n in Case.model_fields)) for c in claim_due_cases(s, at(130))]
    with session_scope(engine) as s:
        rows = claim_due_rows(s, at(130))
        assert [(r.id, *(getattr(r, n) for n in Case.model_fields)) for r in rows] == orm
        assert [r.id for r in rows] == [earlier, later]
        changes = apply_due_timers(s, rows, at(130))
        assert [c.case for c in changes] == rows and not s.dirty and not s.new
    for row in rows:
        stored = _read_case(engine, row.id)
        assert [getattr(row, n) for n in Case.model_fields] == [getattr(stored, n) for n in Case.model_fields]
        assert (row.version, row.stage) == (2, "security")


def _read_case(engine: Engine, case_id: str) -> Case:
    with session_scope(engine, write=False) as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def test_a_batch_may_mix_claimed_rows_and_case_ids(engine: Engine) -> None:
    register(engine)
    first, second = (open_one(engine).case.id for _ in range(2))
    with session_scope(engine) as s:
        claimed = s.get(Case, first)
        assert claimed is not None
        changes = apply_due_timers(s, [claimed, second, first], at(50))
    assert [(c.case.id, c.case.version, [e.kind for e in c.events]) for c in changes] == [
        (first, 2, [EventKind.AT_RISK]),
        (second, 2, [EventKind.AT_RISK]),
    ]


def test_breach_rows_and_webhook_bodies_say_where_the_case_stood(engine: Engine, session: Session) -> None:
    register(engine)
    case_id = open_one(engine).case.id
    with session_scope(engine) as s:
        apply_due_timers(s, [case_id], at(130))
    breaches = session.exec(select(Breach).order_by(col(Breach.due_at))).all()
    common = {"case_id": case_id, "detected_at": at(130), "policy_version": 1, "priority": "P2"}
    assert [b.model_dump(exclude={"id"}) for b in breaches] == [
        {
            **common,
            "event_seq": 3,
            "target_type": BreachTarget.CLOCK,
            "target": "first_response",
            "due_at": at(60),
            "incident_type": "account_compromised",
            "queue": "creator-support",  # the queue it breached in, not the one it escalated to
        },
        {
            **common,
            "event_seq": 5,
            "target_type": BreachTarget.STAGE,
            "target": "frontline",
            "due_at": at(120),
            "incident_type": "account_compromised",
            "queue": "creator-support",
        },
    ]
    where = {
        "assignee": None,
        "next_deadline_at": "2026-03-02T15:00:00.000000+00:00",
        "priority": "P2",
        "queue": "security-specialists",
        "stage": "security",
        "status": "open",
    }
    about = {
        "case": where,
        "case_id": case_id,
        "incident_type": "account_compromised",
        "policy_id": "test-policy",
    }
    notes = session.exec(select(Notification).order_by(col(Notification.event_seq))).all()
    assert [n.payload for n in notes] == [
        {
            **about,
            "at": "2026-03-02T10:00:00.000000+00:00",
            "channel": "support-leads",
            "event": {
                "channel": "support-leads",
                "clock": "first_response",
                "priority": "P2",
                "reason": "first_response breached",
            },
            "event_seq": 4,
            "policy_version": 1,
            "reason": "first_response breached",
        },
        {
            **about,
            "at": "2026-03-02T11:00:00.000000+00:00",
            "channel": "security-oncall",
            "event": {
                "channel": "security-oncall",
                "priority": "P2",
                "reason": "entered security",
                "stage": "security",
            },
            "event_seq": 7,
            "policy_version": 1,
            "reason": "entered security",
        },
    ]


def test_a_webhook_body_names_the_agent_the_case_is_assigned_to(engine: Engine, session: Session) -> None:
    """Who to call about a breach: the body carries the case's assignee as it stands."""
    register(engine)
    case_id = open_one(engine).case.id
    with session_scope(engine) as s:
        api_keys.create_key(s, "ana", Role.AGENT, T0)
        apply_action(s, case_id, "assign", {"assignee": "ana"}, "agent:ana", at(1))
        apply_due_timers(s, [case_id], at(130))

    notes = session.exec(select(Notification).order_by(col(Notification.event_seq))).all()
    assert [n.channel for n in notes] == ["support-leads", "security-oncall"]
    assert [n.payload["case"]["assignee"] for n in notes] == ["ana", "ana"]


def test_a_session_that_read_a_case_earlier_claims_it_as_stored_now(engine: Engine) -> None:
    """A long-lived session keeps the rows it read; the claim must not hand back that old copy
    (the sweep would then advance a state another transaction already moved on)."""
    register(engine)
    case_id = open_one(engine).case.id
    with Session(engine, expire_on_commit=False) as worker:
        earlier = worker.get(Case, case_id)
        assert earlier is not None
        worker.commit()
        with session_scope(engine) as other:
            apply_action(other, case_id, "note", {"text": "meanwhile"}, "agent:ana", at(1))

        claimed = claim_due_cases(worker, at(130))

        assert claimed == [earlier] and (earlier.version, earlier.last_seq) == (2, 2)
        worker.rollback()


def test_a_session_that_read_a_case_earlier_applies_its_timers_to_it_as_stored_now(
    engine: Engine, session: Session
) -> None:
    register(engine)
    case_id = open_one(engine).case.id
    with Session(engine, expire_on_commit=False) as worker:
        earlier = worker.get(Case, case_id)  # held: the session's identity map keeps it
        worker.commit()
        with session_scope(engine) as other:
            apply_action(other, case_id, "note", {"text": "meanwhile"}, "agent:ana", at(1))

        changes = apply_due_timers(worker, [case_id], at(130))
        worker.commit()

    assert [(c.case, c.case.version, c.events[0].seq) for c in changes] == [(earlier, 3, 3)]
    assert verify_chain(session) == []
