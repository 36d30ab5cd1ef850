"""Several sessions at once: one winner per version, no half-written change, every chain intact.

Run on both databases: PostgreSQL shows row locks and SKIP LOCKED at work; SQLite shows that
BEGIN IMMEDIATE write scopes queue instead of failing with "database is locked".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from casework.cases.escalations import apply_due_timers, claim_due_cases
from casework.cases.lifecycle import apply_action, open_case
from casework.errors import StaleVersion
from casework.history.hashchain import verify_chain
from models.db import session_scope
from models.tables import Breach, Case, CaseEvent, Notification
from sla_engine.kinds import EventKind
from tests.casework.builders import CREATOR, at, open_one, register

T = TypeVar("T")


def run_together(n: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run ``work(i)`` for i in range(n) on n threads released at the same instant."""
    barrier = threading.Barrier(n)

    def task(i: int) -> T | BaseException:
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # collected for the assertions
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


def _count(session: Session, table: type, *where: Any) -> int:
    return session.exec(select(func.count()).select_from(table).where(*where)).one()


def test_two_agents_acting_on_the_same_version_one_wins(engine: Engine, session: Session) -> None:
    register(engine)
    case_id = open_one(engine).case.id

    def act(i: int) -> int:
        with session_scope(engine) as s:
            return apply_action(
                s, case_id, "note", {"text": f"agent {i}"}, f"agent:{i}", at(1), 1
            ).case.version

    results = run_together(2, act)
    assert sorted(type(r).__name__ for r in results) == ["StaleVersion", "int"]
    stale = next(r for r in results if isinstance(r, StaleVersion))
    assert stale.current_version == 2
    stored = session.get(Case, case_id)
    assert stored is not None and stored.version == 2 and stored.last_seq == 2
    assert _count(session, CaseEvent, CaseEvent.kind == EventKind.NOTE_ADDED) == 1
    assert verify_chain(session) == []


def test_actions_without_expected_version_all_apply_in_turn(engine: Engine, session: Session) -> None:
    register(engine)
    case_id = open_one(engine).case.id

    def act(i: int) -> int:
        with session_scope(engine) as s:
            return apply_action(s, case_id, "note", {"text": f"agent {i}"}, f"agent:{i}", at(1)).case.version

    assert sorted(run_together(4, act)) == [2, 3, 4, 5]  # type: ignore[type-var]
    assert _count(session, CaseEvent, CaseEvent.kind == EventKind.NOTE_ADDED) == 4
    assert verify_chain(session) == []


def test_eight_threads_opening_cases_all_stored_with_valid_chains(engine: Engine, session: Session) -> None:
    register(engine)

    def opened(i: int) -> str:
        with session_scope(engine) as s:
            change = open_case(
                s, incident_type="account_compromised", attributes=CREATOR, actor=f"agent:{i}", now=at(i)
            )
            return change.case.id

    ids = run_together(8, opened)
    assert all(isinstance(i, str) for i in ids), ids
    assert len(set(ids)) == 8
    assert _count(session, Case) == 8 and _count(session, CaseEvent) == 8
    assert verify_chain(session) == []


def test_two_workers_sweeping_at_once_escalate_each_case_once(engine: Engine, session: Session) -> None:
    register(engine)
    for minute in range(6):
        open_one(engine, now=at(minute))

    def sweep(i: int) -> int:
        done = 0
        while True:
            with session_scope(engine) as s:
                changes = apply_due_timers(s, claim_due_cases(s, at(130), limit=2), at(130))
            if not changes:
                return done
            done += len(changes)

    assert sum(run_together(2, sweep)) == 6  # type: ignore[arg-type]
    assert _count(session, Breach) == 12  # first_response and frontline, per case
    assert _count(session, Notification) == 12
    assert _count(session, CaseEvent, CaseEvent.kind == EventKind.ESCALATED) == 6
    assert verify_chain(session) == []
