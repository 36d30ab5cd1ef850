"""Due timers planned from rows read without a lock (the SQLite sweep's lane processes): ranges of
the due index that never share a case, and a plan that leaves alone what changed before it is written."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from casework.cases.escalations import (
    DueKey,
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
