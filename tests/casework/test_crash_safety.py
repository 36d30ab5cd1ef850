"""A crash at any statement of a service leaves the database exactly as it was before the call.

Each service runs once to count the SQL statements it sends (then rolled back); then once per
statement with that statement failing (as a lost connection or a killed process would), inside the
caller's ``session_scope``. After every failure the whole database must equal the snapshot taken
before, and the same call without the failure must then succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session, SQLModel

from casework.cases.escalations import apply_due_timers, claim_due_cases
from casework.cases.lifecycle import apply_action, open_case
from models.db import session_scope, write_bind
from tests.casework.builders import CREATOR, at, open_one, register

Service = Callable[[Session], object]


class InjectedCrash(RuntimeError):
    pass


class StatementCounter:
    """Counts statements sent to the database and fails the ``fail_at``-th one (1-based)."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.count += 1
        if self.count == self.fail_at:
            raise InjectedCrash(f"crash before statement {self.count}: {statement.split()[0]}")


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table.name} ORDER BY 1"))]
            for table in SQLModel.metadata.sorted_tables
        }


def count_statements(engine: Engine, service: Service) -> int:
    counter = StatementCounter()
    event.listen(engine, "before_cursor_execute", counter)
    try:
        with Session(write_bind(engine)) as session:
            service(session)
            session.flush()
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    return counter.count


def assert_crash_safe(engine: Engine, service: Service) -> None:
    before = snapshot(engine)
    total = count_statements(engine, service)
    assert total >= 5, "the service should write several rows"
    for step in range(1, total + 1):
        counter = StatementCounter(fail_at=step)
        event.listen(engine, "before_cursor_execute", counter)
        try:
            with pytest.raises(InjectedCrash), session_scope(engine) as session:
                service(session)
        finally:
            event.remove(engine, "before_cursor_execute", counter)
        assert snapshot(engine) == before, f"statement {step} of {total} left the database changed"
    with session_scope(engine) as session:
        service(session)
    assert snapshot(engine) != before


def test_open_case_is_all_or_nothing(engine: Engine) -> None:
    register(engine)

    def service(session: Session) -> object:
        # Backdated, so the opening also writes breaches, outbox rows and clock outcomes.
        return open_case(
            session,
            incident_type="account_compromised",
            attributes=CREATOR,
            actor="a",
            now=at(130),
            opened_at=at(0),
        )

    assert_crash_safe(engine, service)


def test_apply_action_with_overdue_timers_is_all_or_nothing(engine: Engine) -> None:
    register(engine)
    case_id = open_one(engine).case.id

    def service(session: Session) -> object:
        return apply_action(session, case_id, "acknowledge", {}, "agent:bo", at(130), expected_version=1)

    assert_crash_safe(engine, service)


def test_escalation_sweep_is_all_or_nothing(engine: Engine) -> None:
    register(engine)
    open_one(engine)
    open_one(engine, now=at(5))

    def service(session: Session) -> object:
        return apply_due_timers(session, claim_due_cases(session, at(130), limit=10), at(130))

    assert_crash_safe(engine, service)
