"""Opening cases and applying agent actions, as stored rows: state, history, version."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from casework.cases.lifecycle import apply_action, open_case
from casework.errors import (
    CaseNotFound,
    ForbiddenTransition,
    InvalidAction,
    PolicyNotRegistered,
    StaleVersion,
)
from casework.history.hashchain import verify_chain
from models.db import session_scope
from models.kinds import BreachTarget
from models.tables import Breach, Case, CaseEvent, Notification
from sla_engine.kinds import SYSTEM_ACTOR, EventKind, Status
from tests.casework.builders import CREATOR, T0, at, open_one, register
from tests.engine.builders import PARTNER_RULE, make_policy


def _count(session: Session, table: type) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def test_open_case_pins_the_latest_version_and_writes_the_opened_event(
    engine: Engine, session: Session
) -> None:
    register(engine, make_policy())
    register(engine, make_policy(rules=[PARTNER_RULE]), now=at(1))  # version 2: partner creators are P1
    case = open_one(engine, now=at(5)).case

    stored = session.get(Case, case.id)
    assert stored is not None
    assert (stored.policy_id, stored.policy_version, stored.version) == ("test-policy", 2, 1)
    assert (stored.status, stored.stage, stored.queue, stored.priority) == (
        Status.OPEN,
        "frontline",
        "creator-support",
        "P1",
    )
    assert stored.opened_at == at(5) and stored.attributes == CREATOR
    # P1: first response in 15 min, at risk at 75 % of it.
    assert stored.next_deadline_at == at(5 + 11.25)
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [(e.seq, e.kind, e.actor, e.at, e.recorded_at) for e in events] == [
        (1, EventKind.OPENED, "agent:ana", at(5), at(5))
    ]
    assert verify_chain(session) == []


def test_opening_without_a_registered_policy_is_refused(engine: Engine) -> None:
    with pytest.raises(PolicyNotRegistered, match="lifeline policies apply"):
        open_one(engine)


def test_action_bumps_the_version_and_appends_its_events(engine: Engine, session: Session) -> None:
    register(engine)
    case = open_one(engine).case
    with session_scope(engine) as s:
        change = apply_action(s, case.id, "acknowledge", {}, "agent:bo", at(10), expected_version=1)
    assert change.case.version == 2 and change.case.status is Status.ACKNOWLEDGED
    assert [e.kind for e in change.events] == [EventKind.STATUS_CHANGED, EventKind.CLOCK_STOPPED]
    stored = session.get(Case, case.id)
    assert stored is not None and stored.version == 2 and stored.last_seq == 3
    assert stored.state["status"] == "acknowledged"


def test_timers_due_before_an_action_are_written_first_with_their_dedupe_keys(
    engine: Engine, session: Session
) -> None:
    register(engine)
    case = open_one(engine).case
    with session_scope(engine) as s:
        change = apply_action(s, case.id, "acknowledge", {}, "agent:bo", at(70))
    kinds = [(e.kind, e.at, e.actor) for e in change.events]
    assert kinds[:3] == [
        (EventKind.AT_RISK, at(45), SYSTEM_ACTOR),
        (EventKind.BREACHED, at(60), SYSTEM_ACTOR),
        (EventKind.NOTIFIED, at(60), SYSTEM_ACTOR),
    ]
    assert all(e.dedupe_key for e in change.events[:3])
    assert all(e.recorded_at == at(70) for e in change.events)
    assert kinds[3][0] is EventKind.STATUS_CHANGED
    breach = session.exec(select(Breach)).one()
    assert (breach.target_type, breach.target, breach.due_at, breach.detected_at) == (
        BreachTarget.CLOCK,
        "first_response",
        at(60),
        at(70),
    )
    assert session.exec(select(Notification)).one().channel == "support-leads"


def test_stale_expected_version_is_refused_and_nothing_is_written(engine: Engine, session: Session) -> None:
    register(engine)
    case = open_one(engine).case
    with pytest.raises(StaleVersion) as info, session_scope(engine) as s:
        apply_action(s, case.id, "note", {"text": "late"}, "agent:bo", at(1), expected_version=7)
    assert info.value.current_version == 1
    assert _count(session, CaseEvent) == 1
    stored = session.get(Case, case.id)
    assert stored is not None and stored.version == 1


def test_forbidden_transition_passes_through_from_the_engine(engine: Engine, session: Session) -> None:
    register(engine)
    case = open_one(engine).case
    with (
        pytest.raises(ForbiddenTransition, match="cannot close a case that is open"),
        session_scope(engine) as s,
    ):
        apply_action(s, case.id, "close", {}, "agent:bo", at(1))
    assert _count(session, CaseEvent) == 1


@pytest.mark.parametrize(
    ("case_id", "action", "error"),
    [("cs_nope", "note", CaseNotFound), (None, "teleport", InvalidAction)],
)
def test_unknown_case_or_action_is_refused(
    engine: Engine, case_id: str | None, action: str, error: type[Exception]
) -> None:
    register(engine)
    real = open_one(engine).case.id
    with pytest.raises(error), session_scope(engine) as s:
        apply_action(s, case_id or real, action, {}, "agent:bo", at(1))


def test_naive_now_is_refused(engine: Engine) -> None:
    register(engine)
    with pytest.raises(InvalidAction, match="timezone-aware"), session_scope(engine) as s:
        open_case(
            s, incident_type="account_compromised", attributes={}, actor="a", now=T0.replace(tzinfo=None)
        )


def test_case_opened_in_the_past_gets_its_overdue_timers_at_once(engine: Engine, session: Session) -> None:
    register(engine)
    with session_scope(engine) as s:
        change = open_case(
            s, incident_type="account_compromised", attributes={}, actor="import", now=at(61), opened_at=T0
        )
    assert [e.kind for e in change.events][:3] == [EventKind.OPENED, EventKind.AT_RISK, EventKind.BREACHED]
    assert change.case.opened_at == T0 and change.case.next_deadline_at == at(120)
    assert len(change.breaches) == 1
