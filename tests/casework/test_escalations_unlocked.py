"""Due timers planned from rows read without a lock (the SQLite sweep's lane processes): ranges of
the due index that never share a case, and a plan that leaves alone what changed before it is written."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from casework.cases.escalations import (
    DueKey,
    SweepPlan,
    claim_due_rows,
    due_keys,
    plan_due_timers,
    read_due_range,
    still_as_read,
    write_plan,
)
from casework.cases.lifecycle import apply_action
from casework.errors import StaleVersion
from casework.history.case_rows import CaseRow
from models.db import session_scope
from models.tables import CaseEvent
from tests.casework.builders import at, open_one, register
from tests.flows.scenarios import assert_exactly_once


def _ranges(engine: Engine, limit: int) -> list[list[CaseRow]]:
    """The due cases at 130 min as consecutive ranges of ``limit`` keys, each read on its own."""
    ranges: list[list[CaseRow]] = []
    after: DueKey | None = None
    with session_scope(engine, write=False) as session:
        while keys := due_keys(session, at(130), after, limit):
            ranges.append(read_due_range(session, at(130), after, keys[-1]))
            after = keys[-1]
    return ranges


def test_ranges_of_the_due_index_hold_every_due_case_once_in_the_claims_order(engine: Engine) -> None:
    register(engine)
    for minute in (3, 0, 2, 2, 1):  # two cases share a deadline: the id breaks the tie
        open_one(engine, now=at(minute))
    open_one(engine, now=at(100))  # not due at 130 min (at risk at 145)

    ranges = _ranges(engine, limit=2)

    with session_scope(engine) as session:
        claimed = [row.id for row in claim_due_rows(session, at(130), limit=10)]
    assert [len(r) for r in ranges] == [2, 2, 1]
    assert [row.id for r in ranges for row in r] == claimed and len(claimed) == 5


def test_a_plan_read_without_a_lock_leaves_alone_the_cases_changed_before_it_is_written(
    engine: Engine,
) -> None:
    register(engine)
    ids = [open_one(engine, now=at(minute)).case.id for minute in (0, 1, 2)]
    with session_scope(engine, write=False) as session:
        [rows] = [read_due_range(session, at(130), None, due_keys(session, at(130), None, 10)[-1])]
        plan = plan_due_timers(session, rows, at(130))
    with session_scope(engine) as other:  # meanwhile an agent writes to the second case
        apply_action(other, ids[1], "note", {"text": "meanwhile"}, "agent:ana", at(100))

    with pytest.raises(StaleVersion), session_scope(engine) as session:
        write_plan(session, plan, at(130))  # written as read, the plan would fork its history
    with session_scope(engine) as session:
        changes = write_plan(session, still_as_read(session, plan), at(130))

    assert [c.case.id for c in changes] == [ids[0], ids[2]]
    assert_exactly_once(engine)
    with session_scope(engine, write=False) as session:  # the plan's events were not written to it
        stamps = session.exec(select(CaseEvent.recorded_at).where(CaseEvent.case_id == ids[1])).all()
        assert at(130) not in stamps and at(100) in stamps
    with session_scope(engine) as session:  # the next sweep advances it from its present state
        [again] = write_plan(
            session, plan_due_timers(session, claim_due_rows(session, at(130)), at(130)), at(130)
        )
    assert again.case.id == ids[1] and again.events  # from what it held after the note
    assert_exactly_once(engine)


def _written(engine: Engine, case_id: str) -> list[tuple[object, ...]]:
    """The case row's and its events' stored values as text, the case's own id masked (twins
    differ in nothing else: the hashes chain the id, so they are left out)."""
    case_query = text(
        "SELECT status, stage, queue, priority, assignee, attributes, state, updated_at, "
        "next_deadline_at, version, last_seq FROM cases WHERE id = :id"
    )
    events_query = text(
        "SELECT seq, kind, at, recorded_at, actor, data, dedupe_key, policy_version "
        "FROM case_events WHERE case_id = :id ORDER BY seq"
    )
    with engine.connect() as connection:
        rows = [connection.execute(case_query, {"id": case_id}).one()]
        rows += connection.execute(events_query, {"id": case_id}).all()
    return [tuple(str(v).replace(case_id, "<id>") for v in row) for row in rows]


def test_a_plan_bound_ahead_writes_what_a_plan_bound_in_its_transaction_writes(engine: Engine) -> None:
    """A lane binds its batch's rows before it takes the write lock (``prepare=True``); the stored
    bytes are those of the same changes bound as they are written, also when a case changed
    meanwhile is left out (the rows bound ahead are then bound again)."""
    register(engine)
    twins = [[open_one(engine, now=at(minute)).case.id for minute in (0, 1, 2)] for _ in range(4)]
    ahead, late, ahead_noted, late_noted = twins

    def plan_of(ids: list[str], prepare: bool) -> SweepPlan[CaseRow]:
        with session_scope(engine, write=False) as session:
            rows = [r for r in read_due_range(session, at(130), None, _last_key(session)) if r.id in ids]
            return plan_due_timers(session, rows, at(130), prepare=prepare)

    plans = [plan_of(ids, prepare) for ids, prepare in zip(twins, (True, False, True, False), strict=True)]
    bound = plans[0].prepared
    assert bound is not None and bound.bound_cases is not None and bound.bound_events is not None
    for ids in (ahead_noted, late_noted):  # meanwhile an agent writes to their second case
        with session_scope(engine) as other:
            apply_action(other, ids[1], "note", {"text": "meanwhile"}, "agent:ana", at(100))
    for plan in plans:
        with session_scope(engine) as session:
            write_plan(session, still_as_read(session, plan), at(130))

    assert [_written(engine, a) for a in ahead] == [_written(engine, b) for b in late]
    assert [_written(engine, a) for a in ahead_noted] == [_written(engine, b) for b in late_noted]
    assert _written(engine, ahead[0])[-1][1] != "opened"  # escalated: events were written
    with pytest.raises(StaleVersion), session_scope(engine) as session:  # as read: it would fork them
        write_plan(session, plans[0], at(130))  # its rows bound with the versions read
    assert_exactly_once(engine)


def _last_key(session: Session) -> DueKey:
    return due_keys(session, at(130), None, 100)[-1]
