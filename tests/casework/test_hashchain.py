"""The hash chain: an intact history verifies; each kind of tampering is reported with case and seq."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from casework.cases.escalations import apply_due_timers
from casework.history.hashchain import GENESIS_HASH, ProblemKind, body_of, compute_hash, seal, verify_chain
from models.db import session_scope
from models.tables import CaseEvent
from sla_engine.kinds import EventKind
from tests.casework.builders import at, open_one, register


@pytest.fixture
def two_cases(engine: Engine) -> tuple[str, str]:
    """Two cases with 7 events each (opened, then two breaches, an escalation, notifications)."""
    register(engine)
    ids = (open_one(engine).case.id, open_one(engine).case.id)
    with session_scope(engine) as s:
        apply_due_timers(s, list(ids), at(130))
    return ids


def _sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def test_intact_histories_verify(session: Session, two_cases: tuple[str, str]) -> None:
    events = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == two_cases[0]).order_by(col(CaseEvent.seq))
    ).all()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert verify_chain(session) == []


def _swap(engine: Engine, case: str) -> None:
    _sql(engine, "UPDATE case_events SET seq = 100 WHERE case_id = :c AND seq = 3", c=case)
    _sql(engine, "UPDATE case_events SET seq = 3 WHERE case_id = :c AND seq = 4", c=case)
    _sql(engine, "UPDATE case_events SET seq = 4 WHERE case_id = :c AND seq = 100", c=case)


FORGED = {"kind": EventKind.NOTE_ADDED, "actor": "mallory", "data": {"text": "all fine"}, "dedupe_key": None}


def _insert_in_the_middle(engine: Engine, case: str) -> None:
    _sql(engine, "UPDATE case_events SET seq = seq + 1000 WHERE case_id = :c AND seq >= 4", c=case)
    _sql(engine, "UPDATE case_events SET seq = seq - 999 WHERE case_id = :c AND seq >= 1000", c=case)
    with session_scope(engine) as s:
        third = s.exec(select(CaseEvent).where(CaseEvent.case_id == case, CaseEvent.seq == 3)).one()
        forged = CaseEvent(
            **{**third.model_dump(exclude={"id"}), **FORGED, "seq": 4, "prev_hash": third.hash}
        )
        s.add(seal(forged))
    _sql(engine, "UPDATE cases SET last_seq = 8 WHERE id = :c", c=case)


def _append_forged(engine: Engine, case: str) -> None:
    with session_scope(engine) as s:
        last = s.exec(select(CaseEvent).where(CaseEvent.case_id == case, CaseEvent.seq == 7)).one()
        forged = CaseEvent(**{**last.model_dump(exclude={"id"}), **FORGED, "seq": 8, "prev_hash": last.hash})
        s.add(seal(forged))


TAMPERING: dict[str, tuple[Callable[[Engine, str], None], int, ProblemKind]] = {
    "actor changed": (
        lambda e, c: _sql(
            e, "UPDATE case_events SET actor = 'agent:eve' WHERE case_id = :c AND seq = 3", c=c
        ),
        3,
        ProblemKind.HASH_MISMATCH,
    ),
    "data changed": (
        lambda e, c: _sql(
            e, 'UPDATE case_events SET data = \'{"clock": "resolution"}\' WHERE case_id = :c AND seq = 2', c=c
        ),
        2,
        ProblemKind.HASH_MISMATCH,
    ),
    "time changed": (
        lambda e, c: _sql(e, "UPDATE case_events SET at = recorded_at WHERE case_id = :c AND seq = 5", c=c),
        5,
        ProblemKind.HASH_MISMATCH,
    ),
    "hash rewritten with content": (
        lambda e, c: _sql(
            e, "UPDATE case_events SET hash = :h WHERE case_id = :c AND seq = 6", c=c, h="f" * 64
        ),
        6,
        ProblemKind.HASH_MISMATCH,
    ),
    "middle event deleted": (
        lambda e, c: _sql(e, "DELETE FROM case_events WHERE case_id = :c AND seq = 4", c=c),
        4,
        ProblemKind.SEQ_GAP,
    ),
    "last event deleted": (
        lambda e, c: _sql(e, "DELETE FROM case_events WHERE case_id = :c AND seq = 7", c=c),
        7,
        ProblemKind.TRUNCATED,
    ),
    "events reordered": (_swap, 3, ProblemKind.REORDERED),
    "event inserted in the middle": (_insert_in_the_middle, 5, ProblemKind.REORDERED),
    "event appended": (_append_forged, 8, ProblemKind.UNEXPECTED_EVENTS),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_tampering_is_reported_with_case_and_seq(
    engine: Engine, session: Session, two_cases: tuple[str, str], tampering: str
) -> None:
    tamper, seq, kind = TAMPERING[tampering]
    victim, other = two_cases
    tamper(engine, victim)

    problems = verify_chain(session)
    assert [(p.case_id, p.seq, p.kind) for p in problems] == [(victim, seq, kind)]
    assert problems[0].detail
    assert verify_chain(session, case_id=other) == []
    assert len(verify_chain(session, case_id=victim)) == 1


# Every field the hash covers, read from the hash's own definition: a field added to ``body_of``
# gets its tamper tests without anyone writing them.
HASHED_FIELDS = list(inspect.signature(body_of).parameters)
#: The columns of an event the hash does not cover: the row id and the hash itself.
UNHASHED_COLUMNS = {"id", "hash"}
#: Fields whose change moves the event to another place in a chain: the structural checks above
#: (seq gap, reordered, truncated) report those before the hash is looked at.
PLACE_FIELDS = {"case_id", "seq"}


def tampered(value: Any) -> Any:
    """A value of the same type as ``value`` that differs from it (and fits its column)."""
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1)
    if isinstance(value, EventKind):
        return EventKind.NOTE_ADDED if value is not EventKind.NOTE_ADDED else EventKind.ASSIGNED
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + ("a" if value[-1:] != "a" else "b")
    if isinstance(value, dict):
        return {**value, "tampered": True}
    if value is None:
        return "tampered"
    raise AssertionError(f"no tampered value for {type(value).__name__}: extend tampered()")


def test_the_hash_covers_every_column_of_an_event_but_its_id_and_itself() -> None:
    columns = set(CaseEvent.model_fields)
    assert set(HASHED_FIELDS) == columns - UNHASHED_COLUMNS
    assert len(HASHED_FIELDS) == 10


@pytest.mark.parametrize("field", HASHED_FIELDS)
def test_changing_any_hashed_field_changes_the_hash(
    engine: Engine, two_cases: tuple[str, str], field: str
) -> None:
    with session_scope(engine, write=False) as s:
        event = s.exec(select(CaseEvent).where(CaseEvent.case_id == two_cases[0], CaseEvent.seq == 3)).one()
    stored = event.hash
    assert compute_hash(event) == stored
    setattr(event, field, tampered(getattr(event, field)))
    assert compute_hash(event) != stored


@pytest.mark.parametrize("field", [f for f in HASHED_FIELDS if f not in PLACE_FIELDS])
def test_tampering_with_any_hashed_field_in_the_database_is_reported(
    engine: Engine, session: Session, two_cases: tuple[str, str], field: str
) -> None:
    victim, other = two_cases
    with session_scope(engine) as s:
        event = s.exec(select(CaseEvent).where(CaseEvent.case_id == victim, CaseEvent.seq == 3)).one()
        setattr(event, field, tampered(getattr(event, field)))
        s.add(event)

    problems = verify_chain(session)
    assert [(p.case_id, p.seq, p.kind) for p in problems] == [(victim, 3, ProblemKind.HASH_MISMATCH)]
    assert verify_chain(session, case_id=other) == []


@pytest.mark.parametrize("last_seq", [7, 1])
def test_a_case_whose_every_event_was_deleted_is_truncated_at_seq_1(
    engine: Engine, session: Session, two_cases: tuple[str, str], last_seq: int
) -> None:
    victim, other = two_cases
    _sql(engine, "DELETE FROM case_events WHERE case_id = :c", c=victim)
    _sql(engine, "UPDATE cases SET last_seq = :n WHERE id = :c", c=victim, n=last_seq)

    problems = verify_chain(session)
    assert [p.to_dict() for p in problems] == [
        {
            "case_id": victim,
            "seq": 1,
            "problem": "truncated",
            "detail": f"the case records {last_seq} events but none is stored",
        }
    ]
    assert verify_chain(session, case_id=victim) == problems
    assert verify_chain(session, case_id=other) == []


def test_a_case_that_records_no_events_and_has_none_verifies(
    engine: Engine, session: Session, two_cases: tuple[str, str]
) -> None:
    victim, _ = two_cases
    _sql(engine, "DELETE FROM case_events WHERE case_id = :c", c=victim)
    _sql(engine, "UPDATE cases SET last_seq = 0 WHERE id = :c", c=victim)
    assert verify_chain(session) == []
