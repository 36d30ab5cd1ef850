"""The worker with real short deadlines, driven by its injected clock: each time the clock reaches a
deadline the worker wakes by itself and records that escalation at exactly that instant (never
before), then delivers the notifications. Runs the worker the way `lifeline serve` embeds it:
``run_worker(config, threading.Event, clock)`` in a thread.

The test moves the clock explicitly, deadline by deadline; it waits (polling, bounded) only for the
worker's thread to notice. How late the worker is in wall time is the lateness benchmark's figure
(bench/), and the wake loop's own timing is tested with a clock in test_wake_loop.py."""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from casework.heartbeats import latest_heartbeat
from flows.webhooks import DeliveryPolicy
from flows.worker import run_worker
from flows.worker_config import WorkerConfig
from models.db import session_scope
from models.kinds import NotificationStatus
from models.tables import CaseEvent, Notification
from sla_engine import cases as engine_cases
from sla_engine.kinds import SYSTEM_ACTOR, EventKind
from tests.casework.builders import CREATOR
from tests.engine.builders import ALWAYS_CAL
from tests.flows.conftest import WEBHOOK_SECRET
from tests.flows.scenarios import CHANNELS, assert_exactly_once, ladder_policy, open_cases, register_ladder
from tests.flows.webhook_receiver import ReceiverState

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]

STEP = timedelta(seconds=1)
#: How long the worker's thread may take to notice a move of the clock (it looks at least every
#: second; Prefect's test server, on SQLite, stalls a flow run's creation by seconds now and then).
NOTICE_WITHIN = 30.0


class MovableClock:
    """The worker's clock: stands still until the test moves it."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def move_to(self, instant: datetime) -> None:
        with self._lock:
            assert instant >= self._now, "the clock only moves forward"
            self._now = instant


@contextmanager
def running_worker(config: WorkerConfig, clock: MovableClock) -> Iterator[threading.Thread]:
    stop = threading.Event()
    # The thread runs in a copy of this context, so it sees the test Prefect server's settings.
    runner = contextvars.copy_context().run
    thread = threading.Thread(target=runner, args=(run_worker, config, stop, clock))
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the worker did not stop within 15 s of stop.set()"


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def timed_events(engine: Engine, case_id: str) -> list[CaseEvent]:
    with session_scope(engine, write=False) as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
        return [e for e in session.exec(query) if e.dedupe_key and e.actor == SYSTEM_ACTOR]


def engine_says(opened_at: datetime, now: datetime) -> list[tuple[EventKind, datetime, str | None]]:
    """The timed events the engine computes for a ladder case opened at ``opened_at`` (the oracle)."""
    policy = ladder_policy(STEP)
    opened = engine_cases.open_case(policy, ALWAYS_CAL, CREATOR, opened_at, "agent:ana")
    advanced = engine_cases.advance(policy, ALWAYS_CAL, opened.state, now)
    return [(e.kind, e.at, e.dedupe_key) for e in advanced.events]


def test_the_worker_records_each_escalation_when_its_clock_reaches_the_deadline_and_delivers(
    engine: Engine, db_url: str, tmp_path: Path, receiver: tuple[str, ReceiverState]
) -> None:
    url, state = receiver
    channels = tmp_path / "channels.json"
    webhooks = {n: {"url": url, "secret": WEBHOOK_SECRET} for n in CHANNELS}
    channels.write_text(json.dumps({"channels": webhooks}))
    register_ladder(engine, STEP)
    # Webhook signatures carry the sender's clock and the receiver checks them against its own wall
    # clock: start the injected clock at the real time of the test, then move it by hand.
    start = datetime.now(UTC).replace(microsecond=0)
    clock = MovableClock(start)
    [case_id] = open_cases(engine, 1, start)
    expected = engine_says(start, start + 10 * STEP)
    # at risk at +1 s, first-response breach at +2 s, then a stage escalation each second to +5 s.
    deadlines = sorted({at for _, at, _ in expected})
    assert deadlines == [start + n * STEP for n in range(1, 6)] and len(expected) == 12
    config = WorkerConfig(
        database_url=db_url,
        channels_file=channels,
        heartbeat_every=timedelta(seconds=1),
        delivery=DeliveryPolicy(backoff_factor=0.05),
    )
    with running_worker(config, clock):
        assert wait_until(lambda: _heartbeat(engine) == start, NOTICE_WITHIN), "no heartbeat"
        assert timed_events(engine, case_id) == []
        for deadline in deadlines:
            clock.move_to(deadline)
            due = len([e for e in expected if e[1] <= deadline])
            recorded = lambda due=due: len(timed_events(engine, case_id)) == due  # noqa: E731
            assert wait_until(recorded, NOTICE_WITHIN), deadline
        assert wait_until(lambda: len(state.accepted_ids()) == 4, NOTICE_WITHIN), state.received

    events = timed_events(engine, case_id)
    assert [(e.kind, e.at, e.dedupe_key) for e in events] == expected
    # Each event was recorded at the instant its deadline came on the worker's clock: not before,
    # not later.
    assert [e.recorded_at for e in events] == [e.at for e in events]
    with session_scope(engine, write=False) as session:
        rows = session.exec(select(Notification)).all()
    assert [r.status for r in rows] == [NotificationStatus.DELIVERED] * 4
    # Delivered on the worker's clock too (a flow run or not): it only ever read these instants.
    assert {r.delivered_at for r in rows} <= set(deadlines)
    assert sorted(state.accepted_ids()) == sorted(r.id for r in rows if r.id is not None)
    assert_exactly_once(engine)


def _heartbeat(engine: Engine) -> datetime | None:
    with session_scope(engine, write=False) as session:
        return latest_heartbeat(session)
