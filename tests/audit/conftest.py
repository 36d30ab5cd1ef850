"""Audit fixtures: a small, hand-followed case history on the test policy (tests/engine/builders)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine

from casework.audit.verify import VerifyReport, verify
from casework.cases.escalations import apply_due_timers
from casework.cases.lifecycle import apply_action
from models.db import session_scope
from tests.casework.builders import T0, at, open_one, register
from tests.engine.builders import PARTNER_RULE, make_policy


@dataclass(frozen=True)
class WorkedCases:
    """Two P1 cases (partner creator) on the test policy, opened at 09:00 by agent:ana.

    ``worked``: 09:12 sweep (first_response at risk at 09:11:15, 45 s late); 09:13 acknowledged
    (first_response met); 09:31 sweep (frontline breached at 09:30, escalated to security,
    security-oncall notified: 60 s late); 09:40 note; 09:50 resolved.
    ``quiet``: opened, acknowledged at 09:05, resolved at 09:20; nothing timed.
    """

    worked: str
    quiet: str


def sweep(engine: Engine, case_ids: list[str], now: datetime) -> None:
    with session_scope(engine) as session:
        apply_due_timers(session, case_ids, now)


def act(engine: Engine, case_id: str, name: str, now: datetime, **args: object) -> None:
    """``name`` by agent:ana at ``now`` with ``args``, through the service (as the API would)."""
    with session_scope(engine) as session:
        apply_action(session, case_id, name, args, "agent:ana", now)


LATER = at(hours=2)


def run_verify(
    engine: Engine, now: datetime = LATER, case_id: str | None = None, since: datetime | None = None
) -> VerifyReport:
    with session_scope(engine, write=False) as session:
        return verify(session, now, case_id=case_id, since=since)


def register_p1(engine: Engine) -> None:
    """The test policy with its partner rule: the builders' partner creator opens at P1."""
    register(engine, make_policy(rules=[PARTNER_RULE]), now=T0 - timedelta(days=1))


@pytest.fixture
def worked_cases(engine: Engine) -> WorkedCases:
    register_p1(engine)
    worked = open_one(engine, now=T0).case.id
    quiet = open_one(engine, now=T0).case.id
    act(engine, quiet, "acknowledge", at(5))
    sweep(engine, [worked], at(12))
    act(engine, worked, "acknowledge", at(13))
    act(engine, quiet, "resolve", at(20))
    sweep(engine, [worked], at(31))
    act(engine, worked, "note", at(40), text="creator called back")
    act(engine, worked, "resolve", at(50), reason="recovered")
    return WorkedCases(worked, quiet)
