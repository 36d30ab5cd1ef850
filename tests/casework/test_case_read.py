"""case_read.read_case sends its statement through the driver's cursor: what it gives must be what
SQLAlchemy's execution of the same statement gives (types, UTC datetimes, the state as a dict,
the flags), for a plain case and for one breached, linked and resolved; it reads inside the
caller's transaction; an unknown id is CaseNotFound. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import Engine, text

from casework.cases.escalations import apply_due_timers, claim_due_cases
from casework.cases.lifecycle import apply_action
from casework.errors import CaseNotFound
from casework.links.linking import link_cases
from casework.queries.case_read import READ_CASE, CaseRead, read_case
from models.db import session_scope, single_read
from models.kinds import LinkKind
from tests.casework.builders import T0, open_one, register


def _through_sqlalchemy(engine: Engine, case_id: str) -> CaseRead:
    with single_read(engine) as connection:
        row = connection.execute(READ_CASE, {"case_id": case_id}).one()
    return CaseRead(row[:-3], bool(row[-3]), row[-2], bool(row[-1]))  # type: ignore[arg-type]


def _read(engine: Engine, case_id: str) -> CaseRead:
    with single_read(engine) as connection:
        return read_case(connection, case_id)


def _same(engine: Engine, case_id: str) -> CaseRead:
    mine, theirs = _read(engine, case_id), _through_sqlalchemy(engine, case_id)
    assert tuple(mine.case) == tuple(theirs.case)
    assert [type(v) for v in mine.case] == [type(v) for v in theirs.case]
    assert (mine.breached, mine.policy_sha256, mine.linked) == (
        theirs.breached,
        theirs.policy_sha256,
        theirs.linked,
    )
    return mine


def test_a_new_case_reads_as_sqlalchemy_reads_it(engine: Engine) -> None:
    register(engine)
    case_id = open_one(engine).case.id
    read = _same(engine, case_id)
    assert read.case.id == case_id and isinstance(read.case.state, dict)
    assert read.case.opened_at == T0 and read.case.opened_at.tzinfo is UTC
    assert read.case.resolved_at is None and read.case.next_deadline_at is not None
    assert (read.breached, read.linked) == (False, False) and read.policy_sha256


def test_a_breached_linked_resolved_case_reads_as_sqlalchemy_reads_it(engine: Engine) -> None:
    register(engine)
    case_id, other_id = open_one(engine).case.id, open_one(engine).case.id
    later = T0 + timedelta(hours=2)  # first_response (P2: 1 h) missed
    with session_scope(engine) as session:
        apply_due_timers(session, claim_due_cases(session, later), later)
        link_cases(session, case_id, LinkKind.RELATED, other_id, "agent:ana", later)
    with session_scope(engine) as session:
        apply_action(session, case_id, "resolve", {}, "agent:ana", later + timedelta(minutes=1))
    read = _same(engine, case_id)
    assert (read.breached, read.linked) == (True, True)
    assert read.case.resolved_at == later + timedelta(minutes=1)
    assert read.case.resolved_at.tzinfo is UTC
    assert _same(engine, other_id).linked


def test_it_reads_inside_the_callers_transaction(engine: Engine) -> None:
    register(engine)
    case_id = open_one(engine).case.id
    with engine.connect() as connection, connection.begin():
        connection.execute(text("UPDATE cases SET version = 41 WHERE id = :id"), {"id": case_id})
        assert read_case(connection, case_id).case.version == 41  # not yet committed: same transaction
        connection.rollback()
    assert _read(engine, case_id).case.version != 41


def test_an_unknown_id_is_case_not_found(engine: Engine) -> None:
    register(engine)
    with single_read(engine) as connection, pytest.raises(CaseNotFound):
        read_case(connection, "cs_01NOSUCHCASE0000000000000")
