"""bench/deadlines.py: the targets the lateness and chaos benchmarks open fall due inside their
window, and what counts as their escalation is the event their deadline wrote, never the record of
what became of a notification (whose ``at`` is its own recording: lateness 0)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import select

from bench.deadlines import escalated, lateness, open_targets, timed_events
from bench.templates import register_bundled
from casework.history.outbox import record_undeliverable
from flows.sweep_batches import sweep_batch
from models.db import session_scope
from models.tables import Case, Notification


def test_targets_fall_due_in_the_window_and_count_once_their_deadline_is_recorded(
    engine: Engine, db_url: str
) -> None:
    register_bundled(engine, datetime.now(UTC) - timedelta(days=60))
    ids, start, end = open_targets(db_url, 5, 2.0)
    assert len(set(ids)) == 5
    assert start > datetime.now(UTC) - timedelta(seconds=5)  # the window starts after the opening
    assert end - start == timedelta(seconds=2)
    with session_scope(engine, write=False) as session:
        deadlines = [session.get(Case, i).next_deadline_at for i in ids]  # type: ignore[union-attr]
    assert all(d is not None and start <= d <= end for d in deadlines), (start, deadlines, end)
    assert escalated(db_url, ids, end) == set()

    swept_at = end + timedelta(seconds=1)
    sweep_batch(engine, swept_at)
    assert escalated(db_url, ids, end) == set(ids)
    events = timed_events(db_url, ids, end)
    assert {case for case, _, _ in events} == set(ids)
    # Two samples a deadline (its warning and the warning's notification), one recorded deadline.
    assert len(events) == 2 * len(ids)
    # Recorded at the sweep's instant, each a second or more after its deadline.
    assert sorted(lateness(db_url, ids, end)) == sorted(
        (swept_at - at).total_seconds() for _, at, _ in events
    )
    assert min(lateness(db_url, ids, end)) >= 1.0

    with session_scope(engine) as session:
        outbox = session.exec(select(Notification.id).where(Notification.case_id == ids[0])).first()
        assert outbox is not None
        assert record_undeliverable(session, outbox, start, "no channel")  # an event at `start`, lateness 0
    assert len(timed_events(db_url, ids, end)) == len(events)
