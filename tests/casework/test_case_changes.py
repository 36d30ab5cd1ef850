"""``write_case_change`` where it lives: its compare-and-set refuses a case read before another
transaction changed it, names the versions, writes nothing and gives the row back as it was read.

The services lock the row before they call it (``get_case_for_update``), so only a caller holding
a row read without the lock meets this: the guard is what keeps such a caller from forking the
chain."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from casework.cases.lifecycle import apply_action
from casework.errors import StaleVersion
from casework.history.case_changes import last_hashes, write_case_change
from casework.history.hashchain import verify_chain
from models.db import session_scope
from models.tables import Case, CaseEvent
from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind
from tests.casework.builders import at, open_one, register


def _read(engine: Engine, case_id: str) -> Case:
    with session_scope(engine, write=False) as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def _note(minutes: float) -> EngineEvent:
    return EngineEvent(EventKind.NOTE_ADDED, at(minutes), "agent:bo", {"text": "late note"})


@pytest.mark.parametrize("expected", [None, 1])
def test_a_change_to_a_case_read_before_another_write_is_refused_and_names_both_versions(
    engine: Engine, session: Session, expected: int | None
) -> None:
    register(engine)
    case_id = open_one(engine).case.id
    stale = _read(engine, case_id)
    with session_scope(engine) as s:
        apply_action(s, case_id, "note", {"text": "first"}, "agent:ana", at(1))
    events = session.exec(select(func.count()).select_from(CaseEvent)).one()

    with session_scope(engine) as s:
        s.add(stale)
        with pytest.raises(StaleVersion) as err:
            write_case_change(s, stale, None, [_note(2)], at(2), expected)
        given_back = (stale.version, stale.last_seq, s.is_modified(stale))

    assert (err.value.case_id, err.value.expected_version, err.value.current_version) == (case_id, 1, 2)
    assert f"case {case_id} is at version 2, expected version 1" in str(err.value)
    assert given_back == (1, 1, False)  # as it was read, and nothing pending for the session
    session.expire_all()
    assert session.exec(select(func.count()).select_from(CaseEvent)).one() == events
    stored = session.get(Case, case_id)
    assert stored is not None and (stored.version, stored.last_seq) == (2, 2)
    assert verify_chain(session) == []


def test_the_version_the_caller_expected_is_named_rather_than_the_one_read(engine: Engine) -> None:
    register(engine)
    case_id = open_one(engine).case.id
    stale = _read(engine, case_id)
    with session_scope(engine) as s:
        apply_action(s, case_id, "note", {"text": "first"}, "agent:ana", at(1))

    with pytest.raises(StaleVersion) as err, session_scope(engine) as s:
        s.add(stale)
        write_case_change(s, stale, None, [_note(2)], at(2), expected_version=7)

    assert (err.value.expected_version, err.value.current_version) == (7, 2)


def test_last_hashes_are_each_case_s_newest_event_hash_as_read(engine: Engine) -> None:
    """The batch's one read of its cases' chain heads (the sweep seals each case's new events onto
    it): a case read before its newest event still gets the hash of the event it was read at."""
    register(engine)
    ids = [open_one(engine, at(i)).case.id for i in range(3)]
    read = [_read(engine, case_id) for case_id in ids]
    with session_scope(engine) as session:
        write_case_change(session, session.get_one(Case, ids[0]), None, [_note(10)], at(10))
    with session_scope(engine, write=False) as session:
        heads = {
            e.case_id: e.hash
            for e in session.exec(select(CaseEvent))
            if e.seq == next(c.last_seq for c in read if c.id == e.case_id)
        }
        assert last_hashes(session, read) == heads
        assert len(heads) == 3
        assert last_hashes(session, []) == {}
