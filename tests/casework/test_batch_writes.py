"""The sweep's batch writer: a batch written in a few statements behaves as the per-case path did
(stale reads refused, duplicates refused and named, nothing half-written, cases read back as stored)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, event, func, text
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from casework.cases.escalations import apply_due_timers, claim_due_cases, claim_due_rows
from casework.errors import CaseNotFound, DuplicateTimedEvent, StaleVersion
from casework.history.driver_binds import ROWS_PER_STATEMENT
from casework.history.hashchain import verify_chain
from models import json_codec
from models.db import session_scope
from models.tables import Breach, Case, CaseEvent, Notification
from sla_engine.state import state_from_dict
from tests.casework.builders import at, open_one, register


def _counts(session: Session) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.exec(select(func.count()).select_from(t)).one() for t in (CaseEvent, Breach, Notification)
    )


def _read(engine: Engine, case_id: str) -> Case:
    with session_scope(engine, write=False) as s:
        case = s.get(Case, case_id)
        assert case is not None
        return case


def test_a_batch_is_a_handful_of_statements_whatever_its_size(engine: Engine) -> None:
    register(engine)
    for minute in range(12):
        open_one(engine, now=at(minute))
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        # SQLite's case UPDATE is joined to its rows' VALUES (WITH v(...) AS (VALUES ...) UPDATE ...)
        joined = statement.startswith("WITH ") and ") UPDATE " in statement
        statements.append("UPDATE" if joined else statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        with session_scope(engine) as s:
            changes = apply_due_timers(s, claim_due_cases(s, at(130), limit=50), at(130))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(changes) == 12
    # UPDATE: the case rows, then the escalated cases' outcome and escalation rows (their queue
    # moved); INSERT: events, breaches, outbox, clock outcomes, escalations, and the three roll-up
    # upserts (cases moved to another queue, escalations, clocks: casework.history.rollups).
    # On PostgreSQL a plain INSERT of 16 rows or more goes as a COPY; on SQLite an INSERT of 32
    # rows or more as one executemany of 32-row INSERTs, and one of the rest
    # (casework.history.driver_binds).
    events = sum(len(c.events) for c in changes)
    assert events > ROWS_PER_STATEMENT
    chunks = 1 + (engine.dialect.name == "sqlite" and events % ROWS_PER_STATEMENT > 0)
    assert statements.count("UPDATE") == 3
    assert statements.count("INSERT") + statements.count("COPY") == 7 + chunks
    # 22: with one SELECT for the parents of the breached cases (a policy's on_child_breach) and
    # four for the roll-ups (the touched cases' outcome and escalation rows, before and after);
    # PostgreSQL locks those parents first (casework.links.child_breach.lock_parents): one more;
    # SQLite reads how many rows the joined UPDATE changed (SELECT changes()): one more there.
    assert len(statements) <= 22 + (chunks - 1) + 1


def test_returned_cases_read_as_stored_and_are_not_written_again(engine: Engine, session: Session) -> None:
    register(engine)
    case_id = open_one(engine).case.id
    with session_scope(engine) as s:
        [change] = apply_due_timers(s, [case_id, case_id], at(130))  # listed twice, advanced once
        assert not s.dirty
    stored = _read(engine, case_id)
    for name in (
        "version",
        "last_seq",
        "stage",
        "queue",
        "status",
        "next_deadline_at",
        "state",
        "updated_at",
    ):
        assert getattr(change.case, name) == getattr(stored, name), name
    assert stored.version == 2 and stored.last_seq == 7
    assert [e.seq for e in change.events] == list(range(2, 8))
    assert verify_chain(session) == []


def test_a_case_read_before_another_sweep_is_refused_as_stale(engine: Engine, session: Session) -> None:
    register(engine)
    first, second = open_one(engine).case.id, open_one(engine, now=at(1)).case.id
    stale = [_read(engine, first), _read(engine, second)]
    with session_scope(engine) as s:
        apply_due_timers(s, [second], at(130))
    before = _counts(session)

    with pytest.raises(StaleVersion) as err, session_scope(engine) as s:
        apply_due_timers(s, stale, at(130))

    assert (err.value.case_id, err.value.expected_version, err.value.current_version) == (second, 1, 2)
    assert _counts(session) == before and _read(engine, first).version == 1
    assert [(c.version, c.last_seq, c.stage) for c in stale] == [(1, 1, "frontline")] * 2  # as read
    assert verify_chain(session) == []


def test_an_escalation_already_recorded_is_refused_and_its_case_named(
    engine: Engine, session: Session
) -> None:
    register(engine)
    first, second = open_one(engine).case.id, open_one(engine, now=at(1)).case.id
    opened_state = _read(engine, second).state
    with session_scope(engine) as s:
        apply_due_timers(s, [second], at(130))
    before = _counts(session)

    with pytest.raises(DuplicateTimedEvent) as err, session_scope(engine) as s:
        rows = [s.get(Case, first), s.get(Case, second)]
        assert rows[0] is not None and rows[1] is not None
        # The second case's state as it was before its sweep: the same timers fire again.
        set_committed_value(rows[1], "state", opened_state)
        apply_due_timers(s, [rows[0], rows[1]], at(130))

    assert err.value.case_id == second
    assert _counts(session) == before and _read(engine, first).version == 1
    assert verify_chain(session) == []


def test_an_unknown_case_id_is_reported_and_nothing_is_written(engine: Engine, session: Session) -> None:
    register(engine)
    case_id = open_one(engine).case.id
    with pytest.raises(CaseNotFound, match="c_missing"), session_scope(engine) as s:
        apply_due_timers(s, [case_id, "c_missing"], at(130))
    assert _counts(session) == (1, 0, 0)


def test_a_swept_case_keeps_its_attributes_as_read_without_encoding_them_again(engine: Engine) -> None:
    # The timers never change the attributes; the writer keeps the very dict read from the row
    # (normalizing it again was a JSON round trip per swept case, lost once when the state's parse
    # stopped sharing the dict).
    register(engine)
    case_id = open_one(engine).case.id
    with session_scope(engine) as s:
        [row] = claim_due_rows(s, at(130), limit=10)
        read = row.attributes
        [change] = apply_due_timers(s, [row], at(130))
    assert change.case.attributes is read
    assert _read(engine, case_id).attributes == read


def test_a_claimed_row_advances_from_its_state_text_as_the_dict_reads(engine: Engine) -> None:
    # The claim reads the state column as its text and the engine's state is decoded straight
    # from it: the same state as the column's dict gives, and once a dict is set, that dict wins.
    register(engine)
    open_one(engine)
    with session_scope(engine) as s:
        [row] = claim_due_rows(s, at(130), limit=10)
        stored = s.get(Case, row.id)
        assert stored is not None and json_codec.loads(row.state_text) == stored.state
        assert row.read_state() == state_from_dict(row.state)
        replaced = {**row.state, "priority": "P4"}
        row.state = replaced
        assert row.state is replaced and row.read_state().priority == "P4"


def test_claimed_rows_refused_as_stale_give_back_their_state_as_read(engine: Engine) -> None:
    # A refused batch gives each row back what it held: a state never decoded stays the text read.
    register(engine)
    open_one(engine)
    second = open_one(engine, now=at(1)).case.id
    with session_scope(engine) as s:
        stale = claim_due_rows(s, at(130), limit=10)
    read = [row.read_state() for row in stale]
    with session_scope(engine) as s:
        apply_due_timers(s, [second], at(130))

    with pytest.raises(StaleVersion), session_scope(engine) as s:
        apply_due_timers(s, stale, at(130))

    assert [row.read_state() for row in stale] == read
    assert [row.state for row in stale] == [json_codec.loads(row.state_text) for row in stale]
    assert [(row.version, row.last_seq, row.stage) for row in stale] == [(1, 1, "frontline")] * 2


def test_swept_case_rows_hold_the_bytes_the_columns_types_write(engine: Engine) -> None:
    # On PostgreSQL the batch's case rows go as one UPDATE joined to arrays (one per column): the
    # stored text and values must be what the executemany wrote, value for value, null for null.
    register(engine)
    case_ids = [open_one(engine, now=at(minute)).case.id for minute in range(3)]
    with session_scope(engine) as s:
        changes = apply_due_timers(s, claim_due_rows(s, at(130), limit=10), at(130))
    assert sorted(c.case.id for c in changes) == sorted(case_ids)
    with engine.connect() as connection:
        stored = {
            row.id: row
            for row in connection.execute(
                text("SELECT id, CAST(state AS TEXT) AS state_text, CAST(attributes AS TEXT) AS attrs, "
                     "status, stage, assignee, resolved_at, version FROM cases")
            )
        }  # fmt: skip
    for change in changes:
        row = stored[change.case.id]
        assert row.state_text == json_codec.dumps(change.case.state)
        assert json_codec.loads(row.attrs) == change.case.attributes
        assert (row.status, row.stage, row.assignee, row.resolved_at, row.version) == (
            str(change.case.status),
            change.case.stage,
            None,
            None,
            2,
        )
