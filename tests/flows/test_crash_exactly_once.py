"""Exactly once through crashes and concurrency, with real processes: workers killed with SIGKILL at
random moments mid-sweep and restarted; four workers on one PostgreSQL sharing 5,000 due cases; an
agent acting on a case while the sweep escalates it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from casework.cases.lifecycle import apply_action
from casework.errors import StaleVersion
from flows.sweep_batches import sweep_batch
from models.db import session_scope
from models.tables import Case, CaseEvent
from sla_engine import cases as engine_cases
from sla_engine.kinds import SYSTEM_ACTOR, EventKind
from tests.casework.builders import CREATOR, T0
from tests.engine.builders import ALWAYS_CAL
from tests.flows.scenarios import STEP, assert_exactly_once, ladder_policy, open_cases, register_ladder

ROOT = Path(__file__).resolve().parents[2]
#: The instant the crash-test workers sweep at (injected: not today's date): two days after the
#: cases opened, so every timer of the ladder, the one-day resolution breach included, is due.
SWEEP_AT = T0 + timedelta(days=2)


def start_worker(url: str, batch_size: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.flows.sweep_crash_worker", url, str(batch_size), SWEEP_AT.isoformat()],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def expected_timed_events(
    now: datetime, step: timedelta = STEP
) -> list[tuple[EventKind, datetime, str | None]]:
    """What the engine says a case opened at T0 has had happen by ``now`` (the oracle)."""
    policy = ladder_policy(step)
    opened = engine_cases.open_case(policy, ALWAYS_CAL, CREATOR, T0, "agent:ana")
    advanced = engine_cases.advance(policy, ALWAYS_CAL, opened.state, now)
    return [(e.kind, e.at, e.dedupe_key) for e in advanced.events]


def assert_every_case_escalated_exactly_as_the_engine_says(
    engine: Engine, case_ids: list[str], now: datetime = SWEEP_AT
) -> None:
    expected = expected_timed_events(now)
    with session_scope(engine, write=False) as session:
        query = select(CaseEvent).where(CaseEvent.actor == SYSTEM_ACTOR)
        events = session.exec(query.order_by(col(CaseEvent.case_id), col(CaseEvent.seq))).all()
    by_case: dict[str, list[tuple[EventKind, datetime, str | None]]] = {cid: [] for cid in case_ids}
    for e in events:
        if e.dedupe_key is not None:
            by_case[e.case_id].append((e.kind, e.at, e.dedupe_key))
    wrong = [cid for cid, got in by_case.items() if got != expected]
    assert wrong == [], f"{len(wrong)} cases differ from the engine, e.g. {wrong[:3]}"
    assert_exactly_once(engine)


@pytest.mark.e2e
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_workers_killed_at_random_moments_mid_sweep_leave_every_escalation_exactly_once(
    engine: Engine, db_url: str
) -> None:
    register_ladder(engine, STEP)
    case_ids = open_cases(engine, 1200, T0)
    rng = random.Random(20260302)
    kills = 0
    for _ in range(12):
        worker = start_worker(db_url, batch_size=20)
        assert worker.stdout is not None
        first = worker.stdout.readline()  # one batch committed: the worker is mid-sweep
        if first.startswith("done") or not first:
            worker.wait(timeout=30)
            break
        # A batch of 20 commits in tens of milliseconds: kill within a couple of batches, so that
        # a dozen workers die before the 1,200 cases run out.
        time.sleep(rng.uniform(0.0, 0.05))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        kills += worker.returncode == -signal.SIGKILL
    assert kills >= 10, f"only {kills} workers were killed mid-sweep: give the test more work"

    final = start_worker(db_url, batch_size=200)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0 and out.strip().endswith("done"), err

    assert_every_case_escalated_exactly_as_the_engine_says(engine, case_ids)


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_four_workers_share_five_thousand_due_cases_on_postgres_each_escalation_once(
    engine: Engine, db_url: str
) -> None:
    register_ladder(engine, STEP)
    case_ids = open_cases(engine, 5000, T0, chunk=1000)

    workers = [start_worker(db_url, batch_size=100) for _ in range(4)]
    outputs = [w.communicate(timeout=300) for w in workers]

    assert [w.returncode for w in workers] == [0, 0, 0, 0], [err[-2000:] for _, err in outputs]
    claimed = [sum(_claimed(line) for line in out.splitlines()) for out, _ in outputs]
    assert sum(claimed) >= 5000
    assert sum(1 for n in claimed if n > 0) >= 2, f"SKIP LOCKED should share the work: {claimed}"
    assert_every_case_escalated_exactly_as_the_engine_says(engine, case_ids)


def _claimed(line: str) -> int:
    """``batch cases=N events=M`` -> N."""
    return int(line.split()[1].removeprefix("cases=")) if line.startswith("batch") else 0


def test_an_agent_acting_while_the_sweep_escalates_loses_on_the_version_then_retries(engine: Engine) -> None:
    register_ladder(engine, STEP)
    [case_id] = open_cases(engine, 1, T0)
    with session_scope(engine, write=False) as session:
        seen = session.exec(select(Case.version).where(Case.id == case_id)).one()

    # The sweep commits first: the agent's If-Match version is now stale.
    assert sweep_batch(engine, T0 + 3 * STEP).changed_cases == 1
    with pytest.raises(StaleVersion), session_scope(engine) as session:
        apply_action(session, case_id, "acknowledge", {}, "agent:ana", T0 + 3 * STEP, expected_version=seen)

    # The agent reads again and retries: both the escalation and the acknowledgement are kept.
    with session_scope(engine) as session:
        current = session.exec(select(Case.version).where(Case.id == case_id)).one()
        apply_action(session, case_id, "acknowledge", {}, "agent:ana", T0 + 3 * STEP, current)
    with session_scope(engine, write=False) as session:
        kinds = Counter(e.kind for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id)))
        status = session.exec(select(Case.status).where(Case.id == case_id)).one()
    assert kinds[EventKind.ESCALATED] == 1 and kinds[EventKind.STATUS_CHANGED] == 1
    assert status == "acknowledged"
    assert_exactly_once(engine)


def test_when_the_agent_wins_the_sweep_applies_the_timers_to_the_new_state(engine: Engine) -> None:
    register_ladder(engine, STEP)
    [case_id] = open_cases(engine, 1, T0)
    with session_scope(engine) as session:
        apply_action(session, case_id, "acknowledge", {}, "agent:ana", T0 + STEP, expected_version=1)

    sweep_batch(engine, T0 + 3 * STEP)

    with session_scope(engine, write=False) as session:
        query = select(CaseEvent).where(CaseEvent.kind == EventKind.BREACHED)
        breaches = [e.data for e in session.exec(query)]
    # Acknowledged in time: no first-response breach, but the frontline stage still ran out.
    assert [b.get("stage") for b in breaches] == ["frontline"] and all("clock" not in b for b in breaches)
    assert_exactly_once(engine)
