"""The outbox's exactly-once paths, on both databases: a claim leases its rows, an expired lease is
claimed again, a row no longer pending is left alone, and two workers racing one notification record
one delivery (issue 19: each of these bugs once survived the whole suite)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from casework.cases.escalations import apply_due_timers
from casework.history.hashchain import verify_chain
from casework.history.outbox import (
    claim_due_notifications,
    pending_items,
    record_delivered,
    record_delivered_many,
    record_failed_attempt,
    record_undeliverable,
)
from models.db import session_scope
from models.kinds import NotificationStatus
from models.tables import CaseEvent, Notification
from sla_engine.kinds import EventKind
from tests.casework.builders import at, open_one, register
from tests.casework.test_concurrency import run_together

NOW = at(130)
LEASE = timedelta(seconds=60)


@pytest.fixture
def notification_ids(engine: Engine) -> list[int]:
    """Two cases whose due timers queued two notifications each (every row pending, due at once)."""
    register(engine)
    case_ids = [open_one(engine).case.id for _ in range(2)]
    with session_scope(engine) as s:
        apply_due_timers(s, case_ids, NOW)
        ids = [n for n in s.exec(select(Notification.id).order_by(col(Notification.id))) if n is not None]
    assert len(ids) == 4
    return ids


def claim(engine: Engine, now: datetime, limit: int = 10) -> list[int]:
    with session_scope(engine) as s:
        return [item.id for item in claim_due_notifications(s, now, limit, LEASE)]


def row(session: Session, notification_id: int) -> Notification:
    """The row as stored now (a new transaction: the last one's snapshot may be out of date)."""
    session.rollback()
    found = session.get(Notification, notification_id)
    assert found is not None
    return found


def delivery_events(session: Session, kind: EventKind = EventKind.NOTIFICATION_DELIVERED) -> list[CaseEvent]:
    session.rollback()
    return list(session.exec(select(CaseEvent).where(CaseEvent.kind == kind)))


def test_a_claim_leases_its_rows_so_no_other_claim_takes_them(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    assert claim(engine, NOW, limit=2) == notification_ids[:2]
    assert [row(session, i).next_attempt_at for i in notification_ids[:2]] == [NOW + LEASE] * 2

    # Another worker, a moment later and just before the lease runs out: only the unclaimed row.
    assert claim(engine, NOW + timedelta(seconds=1)) == notification_ids[2:]
    assert claim(engine, NOW + LEASE - timedelta(microseconds=1)) == []


def test_an_expired_lease_is_claimed_again_and_leased_anew(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    assert claim(engine, NOW) == notification_ids
    later = NOW + LEASE
    assert claim(engine, later) == notification_ids
    assert {row(session, i).next_attempt_at for i in notification_ids} == {later + LEASE}
    assert [row(session, i).status for i in notification_ids] == [NotificationStatus.PENDING] * 4


def test_a_row_no_longer_pending_is_neither_claimed_nor_recorded_again(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    first, second, *others = notification_ids
    claim(engine, NOW)
    with session_scope(engine) as s:
        assert record_delivered(s, first, NOW, 200) is True
        assert record_undeliverable(s, second, NOW, "no webhook") is True
    for done in (first, second):
        with session_scope(engine) as s:
            assert record_delivered(s, done, NOW + LEASE, 200) is False
            assert record_failed_attempt(s, done, NOW + LEASE, "503", 5, NOW + 2 * LEASE) is None
            assert record_undeliverable(s, done, NOW + LEASE, "no webhook") is False
            assert [item.id for item in pending_items(s, notification_ids)] == others

    assert claim(engine, NOW + LEASE) == others
    assert (row(session, first).status, row(session, first).attempts) == (NotificationStatus.DELIVERED, 1)
    assert (row(session, second).status, row(session, second).attempts) == (NotificationStatus.DEAD, 0)
    assert [e.data["notification_id"] for e in delivery_events(session)] == [first]
    assert [e.data["notification_id"] for e in delivery_events(session, EventKind.NOTIFICATION_FAILED)] == [
        second
    ]
    assert verify_chain(session) == []


def test_a_failed_attempt_below_the_limit_stays_pending_until_its_retry(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    first = notification_ids[0]
    claim(engine, NOW)
    retry_at = NOW + timedelta(minutes=5)
    with session_scope(engine) as s:
        assert record_failed_attempt(s, first, NOW, "HTTP 503", 2, retry_at) is NotificationStatus.PENDING
    stored = row(session, first)
    assert (stored.status, stored.attempts, stored.next_attempt_at) == (
        NotificationStatus.PENDING,
        1,
        retry_at,
    )
    assert stored.last_error == "HTTP 503"
    assert first not in claim(engine, retry_at - timedelta(microseconds=1))
    assert claim(engine, retry_at) == [first]
    with session_scope(engine) as s:
        assert record_failed_attempt(s, first, retry_at, "HTTP 503", 2, retry_at) is NotificationStatus.DEAD
    assert (row(session, first).status, row(session, first).attempts) == (NotificationStatus.DEAD, 2)
    assert len(delivery_events(session, EventKind.NOTIFICATION_FAILED)) == 1


def test_two_workers_claiming_at_once_share_the_rows_without_overlap(
    engine: Engine, notification_ids: list[int]
) -> None:
    claims = run_together(2, lambda _: claim(engine, NOW, limit=2))
    assert all(isinstance(c, list) for c in claims)
    taken = [i for c in claims if isinstance(c, list) for i in c]
    assert sorted(taken) == notification_ids


def test_two_workers_racing_one_notification_record_one_delivery(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    first = notification_ids[0]
    # Worker A claims and sends, then stalls past its lease; worker B claims the row again and sends.
    assert first in claim(engine, NOW)
    assert first in claim(engine, NOW + LEASE)

    def record(worker: int) -> bool:
        with session_scope(engine) as s:
            return record_delivered(s, first, NOW + LEASE + timedelta(seconds=worker), 200)

    outcomes = run_together(2, record)
    assert sorted(outcomes, key=str) == [False, True]
    assert [e.data["notification_id"] for e in delivery_events(session)] == [first]
    assert (row(session, first).status, row(session, first).attempts) == (NotificationStatus.DELIVERED, 1)
    assert verify_chain(session) == []


def stored_delivery(session: Session, notification_id: int) -> tuple[Any, ...]:
    """What a user sees of one recorded delivery: the row and its event (not ids or hashes)."""
    stored = row(session, notification_id)
    event = next(e for e in delivery_events(session) if e.data["notification_id"] == notification_id)
    return (
        stored.status,
        stored.attempts,
        stored.delivered_at,
        event.at,
        event.actor,
        event.dedupe_key,
        event.data,
    )


def test_deliveries_recorded_together_read_as_recorded_one_by_one(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    """Two answers per case in one batch, each at its own instant: the same rows, events and an
    intact chain as recording each in its own transaction."""
    claim(engine, NOW)
    answers = [(nid, NOW + timedelta(seconds=n), 200 + n) for n, nid in enumerate(notification_ids)]
    with session_scope(engine) as s:
        assert record_delivered_many(s, answers[:2], NOW + timedelta(seconds=9)) == set(notification_ids[:2])
    for nid, answered, code in answers[2:]:
        with session_scope(engine) as s:
            assert record_delivered(s, nid, answered, code) is True

    together = [stored_delivery(session, nid) for nid in notification_ids[:2]]
    alone = [stored_delivery(session, nid) for nid in notification_ids[2:]]
    assert [t[:2] + t[4:5] for t in together] == [a[:2] + a[4:5] for a in alone]
    assert [t[2] for t in together] == [t[3] for t in together] == [a for _, a, _ in answers[:2]]
    assert [sorted(t[6]) for t in together] == [sorted(a[6]) for a in alone]
    assert [t[6]["status_code"] for t in together] == [200, 201]
    assert verify_chain(session) == []


def test_a_batch_leaves_rows_no_longer_pending_alone(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    first, second, *_ = notification_ids
    claim(engine, NOW)
    with session_scope(engine) as s:
        assert record_delivered(s, first, NOW, 200) is True
    with session_scope(engine) as s:
        assert record_delivered_many(s, [(first, NOW, 200), (second, NOW, 200)], NOW) == {second}
    with session_scope(engine) as s:
        assert record_delivered_many(s, [(first, NOW, 200), (second, NOW, 200)], NOW) == set()
    assert sorted(e.data["notification_id"] for e in delivery_events(session)) == [first, second]
    assert [row(session, i).attempts for i in (first, second)] == [1, 1]
    assert verify_chain(session) == []
