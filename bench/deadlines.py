"""Cases whose first deadline falls in a window, and how late the workers recorded them: what the
`lateness` and `chaos` benchmarks share.

A target is an account-compromised case (a 24/7 policy) opened back-dated so that its first deadline
(the first-response warning) falls at a chosen instant; the events its deadline writes are timed
events (a dedupe key) of the case, at or before the window's end.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from bench.common import note
from bench.templates import OPEN_AGES, attributes
from casework.cases.lifecycle import open_case
from models.db import make_engine, session_scope
from models.tables import CaseEvent

POLICY = "account-compromised"
#: Template ages (minutes): open cases without breaches, as the mix wants (older ones would breach).
YOUNG = tuple(age for age in OPEN_AGES if age <= 240)


def open_targets(
    url: str, k: int, window: float, lead_seconds: float | None = None
) -> tuple[list[str], datetime, datetime]:
    """Open ``k`` cases whose first deadline falls in the window, which starts ``lead_seconds`` from
    now (default: 1.5 times what opening them takes here and now, measured on a few cases opened and
    rolled back first, plus half a second); returns ids and the window."""
    engine = make_engine(url)
    lead, each = _probe(engine)
    margin = 0.5 + 1.5 * k * each if lead_seconds is None else lead_seconds
    start = datetime.now(UTC) + timedelta(seconds=margin)
    rng = random.Random(8)
    deadlines = sorted(start + timedelta(seconds=rng.uniform(0, window)) for _ in range(k))
    ids = []
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for due in deadlines:
            opened = due - lead
            change = open_case(
                session,
                policy_id=POLICY,
                attributes=attributes("partner", opened),
                actor="agent:bench",
                now=now,
                opened_at=opened,
            )
            ids.append(change.case.id)
    engine.dispose()
    if datetime.now(UTC) > start:
        note("warning: opening the cases took longer than planned; the first deadlines were already past")
    return ids, start, start + timedelta(seconds=window)


def _probe(engine: Engine, count: int = 4) -> tuple[timedelta, float]:
    """(opening to first deadline, seconds one opening takes): ``count`` cases opened and rolled
    back; the first is not timed (it warms the policy and the statements)."""
    with session_scope(engine) as session:
        began = 0.0
        for n in range(count):
            if n == 1:
                began = time.perf_counter()
            at = datetime.now(UTC)
            case = open_case(
                session, policy_id=POLICY, attributes=attributes("partner", at), actor="agent:bench", now=at
            ).case
        each = (time.perf_counter() - began) / (count - 1)
        assert case.next_deadline_at is not None
        lead = case.next_deadline_at - case.opened_at
        session.rollback()
    return lead, each


def escalated(url: str, ids: list[str], end: datetime) -> set[str]:
    """The cases among ``ids`` with an escalation recorded at or before ``end``."""
    return {case_id for case_id, _, _ in timed_events(url, ids, end)}


def timed_events(url: str, ids: list[str], end: datetime) -> list[tuple[str, datetime, datetime]]:
    """(case, at, recorded_at) of each escalation of ``ids`` at or before ``end``: the events the
    deadlines wrote, not the deliveries' records of what became of their notifications
    (``notification:<id>:failed``, whose ``at`` is its own recording: lateness 0, which before
    2026-12-03 made up ~a third of the samples and pulled the percentiles down)."""
    engine = make_engine(url)
    found: list[tuple[str, datetime, datetime]] = []
    with session_scope(engine, write=False) as session:
        for part in range(0, len(ids), 500):
            found += session.exec(
                select(CaseEvent.case_id, CaseEvent.at, CaseEvent.recorded_at).where(
                    col(CaseEvent.case_id).in_(ids[part : part + 500]),
                    col(CaseEvent.dedupe_key).is_not(None),
                    col(CaseEvent.dedupe_key).not_like("notification:%"),
                    col(CaseEvent.at) <= end,
                )
            ).all()
    engine.dispose()
    return found


def wait_recorded(url: str, ids: list[str], end: datetime, tail: float) -> None:
    """Until the window has ended and every case's deadline is recorded, or ``tail`` s after it."""
    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
    give_up = time.monotonic() + tail
    while time.monotonic() < give_up and len(escalated(url, ids, end)) < len(ids):
        time.sleep(0.1)


def lateness(url: str, ids: list[str], end: datetime) -> list[float]:
    """``recorded_at - at`` of each escalation of ``ids`` at or before ``end``."""
    return [(recorded - at).total_seconds() for _, at, recorded in timed_events(url, ids, end)]
