"""The sweep's batches without Prefect: catch-up after downtime, batching, exactly once."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, event
from sqlmodel import col, select

from flows.sweep_batches import (
    SweepCounts,
    earliest_deadline,
    plain_batches,
    reporting_progress,
    sweep_batch,
    sweep_batches,
    sweep_until_done,
)
from models.db import session_scope
from models.tables import Breach, CaseEvent, Notification
from sla_engine import cases as engine_cases
from sla_engine.kinds import EventKind
from tests.casework.builders import CREATOR, T0
from tests.engine.builders import ALWAYS_CAL
from tests.flows.scenarios import assert_exactly_once, count, open_cases, register_ladder

STEP = timedelta(seconds=2)


def sweep_all(engine: Engine, now, limit: int = 200) -> SweepCounts:  # type: ignore[no-untyped-def]
    total = SweepCounts()
    while True:
        counts = sweep_batch(engine, now, limit)
        total.add(counts)
        if counts.cases < limit:
            return total


def test_a_worker_down_for_hours_escalates_every_missed_timer_in_order_at_its_deadline(
    engine: Engine,
) -> None:
    policy = register_ladder(engine, STEP)
    [case_id] = open_cases(engine, 1, T0)
    now = T0 + timedelta(days=1, hours=3)  # down for 27 hours: the resolution clock breached too

    counts = sweep_all(engine, now)

    expected = engine_cases.advance(
        policy, ALWAYS_CAL, engine_cases.open_case(policy, ALWAYS_CAL, CREATOR, T0, "agent:ana").state, now
    ).events
    with session_scope(engine, write=False) as session:
        stored = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id, col(CaseEvent.recorded_at) == now)
        ).all()
    assert [(e.kind, e.at, e.dedupe_key) for e in stored] == [(e.kind, e.at, e.dedupe_key) for e in expected]
    assert [e.at for e in stored] == sorted(e.at for e in stored)
    breaches = [e.at for e in stored if e.kind is EventKind.BREACHED]
    assert breaches == [T0 + 2 * STEP, T0 + 3 * STEP, T0 + 4 * STEP, T0 + 5 * STEP, T0 + timedelta(days=1)]
    assert counts.events == len(expected) and counts.breaches == 5 and counts.notifications == 5
    assert counts.max_lateness_seconds == (now - T0 - STEP).total_seconds()  # the at-risk warning, first

    again = sweep_all(engine, now + timedelta(minutes=5))
    assert again.events == 0
    assert_exactly_once(engine)


def test_due_cases_are_swept_in_batches_each_escalation_once(engine: Engine) -> None:
    register_ladder(engine, STEP)
    open_cases(engine, 450, T0)
    now = T0 + 3 * STEP  # at risk, first-response breach, frontline escalation due for every case

    batches = [sweep_batch(engine, now, 200) for _ in range(4)]

    assert [b.cases for b in batches] == [200, 200, 50, 0]
    total = SweepCounts()
    for b in batches:
        total.add(b)
    with session_scope(engine, write=False) as session:
        assert count(session, Breach) == 900 == total.breaches
        assert count(session, Notification) == 900 == total.notifications
    assert earliest_deadline(engine) == T0 + 4 * STEP
    assert_exactly_once(engine)


def test_nothing_is_claimed_before_its_deadline(engine: Engine) -> None:
    register_ladder(engine, STEP)
    open_cases(engine, 3, T0)
    assert sweep_batch(engine, T0 + STEP - timedelta(microseconds=1)).cases == 0
    assert sweep_batch(engine, T0 + STEP).events == 3


def test_several_batches_in_one_call_commit_one_by_one_and_stop_after_a_short_one(engine: Engine) -> None:
    register_ladder(engine, STEP)
    open_cases(engine, 450, T0)
    commits: list[int] = []
    event.listen(engine, "commit", lambda _connection: commits.append(1))

    counts = sweep_batches(engine, T0 + 3 * STEP, 200, batches=10)

    assert (counts.cases, counts.breaches) == (450, 900)
    if engine.dialect.name == "sqlite":  # each batch its own transaction: the lock is held one at a time
        assert counts.batches == len(commits) == 3
    else:  # two at a time (POSTGRES_LANES): two lanes claiming the last 50 together may split them
        # (SKIP LOCKED) or one may find none (its transaction commits; it is not counted as a batch)
        assert counts.batches in (3, 4) and len(commits) in (3, 4) and counts.batches <= len(commits)
    assert_exactly_once(engine)


def test_on_postgresql_two_batches_are_in_flight_at_once(engine: Engine) -> None:
    """Two batches' transactions are open at the same time, and every case is still swept once
    (each lane claims with SKIP LOCKED, past the rows the other holds)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: its batches run one after another")
    register_ladder(engine, STEP)
    open_cases(engine, 400, T0)
    in_flight: list[int] = []
    now_open = [0]
    guard = threading.Lock()

    def begin(_connection: object) -> None:
        with guard:
            now_open[0] += 1
            in_flight.append(now_open[0])

    def end(_connection: object) -> None:
        with guard:
            now_open[0] -= 1

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end)

    counts = sweep_batches(engine, T0 + 3 * STEP, 100, batches=10)

    assert counts.cases == 400 and max(in_flight) == 2
    assert_exactly_once(engine)


def test_a_sweep_asks_for_its_batches_a_few_at_a_time_and_stops_at_max_batches(engine: Engine) -> None:
    register_ladder(engine, STEP)
    open_cases(engine, 1_100, T0)
    asked: list[int] = []
    plain = plain_batches(engine)

    async def recording(now: datetime | None, limit: int, batches: int) -> SweepCounts:
        asked.append(batches)
        return await plain(now, limit, batches)

    at = T0 + 3 * STEP
    reported: list[SweepCounts] = []
    with reporting_progress(reported.append):
        first = asyncio.run(sweep_until_done(recording, 100, max_batches=5, now=at, batches_per_call=2))
    assert asked == [2, 2, 1] and (first.batches, first.cases) == (5, 500)
    assert [(r.batches, r.cases) for r in reported] == [(2, 200), (2, 200), (1, 100)]  # call by call

    asked.clear()
    rest = asyncio.run(sweep_until_done(recording, 100, max_batches=50, now=at, batches_per_call=4))
    # One after another the 7th batch comes back empty; two lanes do not count a lane that found nothing.
    assert asked == [4, 4] and (rest.batches, rest.cases) == (
        7 if engine.dialect.name == "sqlite" else 6,
        600,
    )
    assert earliest_deadline(engine) == T0 + 4 * STEP
    assert_exactly_once(engine)
