"""The worker with real short deadlines: it wakes at each deadline by itself and records the
escalation within seconds of it, then delivers the notifications. Runs the worker the way
`lifeline serve` embeds it: ``run_worker(url, threading.Event)`` in a thread."""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from casework.heartbeats import latest_heartbeat
from flows.webhooks import DeliveryPolicy
from flows.worker import WorkerConfig, run_worker
from models.db import session_scope
from models.kinds import NotificationStatus
from models.tables import CaseEvent, Notification
from sla_engine.kinds import SYSTEM_ACTOR, EventKind
from tests.flows.conftest import WEBHOOK_SECRET
from tests.flows.scenarios import CHANNELS, assert_exactly_once, open_cases, register_ladder
from tests.flows.webhook_receiver import ReceiverState

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]

STEP = timedelta(seconds=1)
#: The design promises "within a second", and the lateness benchmark measures that figure (p99
#: 0.26 s). Here the Prefect server is prefect_test_harness's, on SQLite: its own services hold that
#: database's write lock long enough to stall creating a sweep's flow run by ~2.4 s now and then
#: (docs/worker.md; a CI run read 2.2 s). So this asserts the behaviour, escalations recorded by
#: the worker itself shortly after their deadlines, and never before them, not the figure. The
#: wake loop's own timing (sleep until the next deadline) is tested with a clock in test_wake_loop.
LATENESS_BOUND = timedelta(seconds=5)


@contextmanager
def running_worker(config: WorkerConfig) -> Iterator[threading.Thread]:
    stop = threading.Event()
    # The thread runs in a copy of this context, so it sees the test Prefect server's settings.
    thread = threading.Thread(target=contextvars.copy_context().run, args=(run_worker, config, stop))
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "the worker did not stop within 15 s of stop.set()"


def wait_until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
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


def test_escalations_are_recorded_right_after_their_deadlines_and_notifications_delivered(
    engine: Engine, db_url: str, tmp_path: Path, receiver: tuple[str, ReceiverState]
) -> None:
    url, state = receiver
    channels = tmp_path / "channels.json"
    webhooks = {n: {"url": url, "secret": WEBHOOK_SECRET} for n in CHANNELS}
    channels.write_text(json.dumps({"channels": webhooks}))
    register_ladder(engine, STEP)
    config = WorkerConfig(
        database_url=db_url,
        channels_file=channels,
        heartbeat_every=timedelta(seconds=1),
        delivery=DeliveryPolicy(backoff_factor=0.05),
    )
    with running_worker(config):
        assert wait_until(lambda: _heartbeat(engine) is not None, timeout=30), "no heartbeat"
        [case_id] = open_cases(engine, 1, datetime.now(UTC))
        # at risk at +1 s, first-response breach at +2 s, then a stage escalation each second to +5 s.
        assert wait_until(lambda: len(timed_events(engine, case_id)) >= 12, timeout=20)
        assert wait_until(lambda: len(state.received) >= 4, timeout=10)

    events = timed_events(engine, case_id)
    lateness = [e.recorded_at - e.at for e in events]
    print("lateness (s):", [round(late.total_seconds(), 3) for late in lateness])
    assert all(timedelta(0) <= late < LATENESS_BOUND for late in lateness), lateness
    assert [e.kind for e in events if e.kind is EventKind.ESCALATED] == [EventKind.ESCALATED] * 3
    with session_scope(engine, write=False) as session:
        rows = session.exec(select(Notification)).all()
    assert len(rows) == 4 and all(r.status is NotificationStatus.DELIVERED for r in rows)
    assert sorted(state.accepted_ids()) == sorted(r.id for r in rows if r.id is not None)
    assert_exactly_once(engine)


def _heartbeat(engine: Engine) -> datetime | None:
    with session_scope(engine, write=False) as session:
        return latest_heartbeat(session)
