"""The outbox's exactly-once paths, on both databases: a claim leases its rows (earliest due first), an
expired lease is claimed again, a row no longer pending is left alone, two workers racing one
notification record one delivery (issue 19: each of these bugs once survived the whole suite), and a
stopping worker gives its leases back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from casework.history.hashchain import verify_chain
from casework.history.outbox import (
    claim_due_notifications,
    earliest_pending_attempt,
    pending_items,
    record_delivered,
    record_delivered_many,
    record_failed_attempt,
    record_undeliverable,
    release_leases,
)
from models.db import session_scope
from models.kinds import NotificationStatus
from sla_engine.kinds import EventKind
from tests.casework.outbox_rows import (
    LEASE,
    NOW,
    claim,
    dead_letter_all,
    delivery_events,
    row,
)
from tests.casework.test_concurrency import run_together


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


def test_pending_items_are_the_asked_rows_still_pending_as_claimed_in_id_order(
    engine: Engine, notification_ids: list[int]
) -> None:
    first, *others = notification_ids
    with session_scope(engine) as s:
        claimed = claim_due_notifications(s, NOW, 10, LEASE)
        assert record_delivered(s, first, NOW, 200) is True
    asked = list(reversed(notification_ids[:3]))  # a later row is not asked for
    with session_scope(engine) as s:
        assert pending_items(s, asked) == [item for item in claimed if item.id in others[:2]]


def test_released_leases_make_only_the_given_pending_rows_due_again(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    first, *mine, theirs = notification_ids  # the last row is leased to another worker
    claim(engine, NOW)
    with session_scope(engine) as s:
        record_delivered(s, first, NOW, 200)
    stopping = NOW + timedelta(seconds=5)
    with session_scope(engine) as s:
        assert release_leases(s, [first, *mine], stopping) == len(mine)
    assert row(session, first).next_attempt_at is None
    assert [row(session, i).next_attempt_at for i in mine] == [stopping] * len(mine)
    assert row(session, theirs).next_attempt_at == NOW + LEASE
    assert claim(engine, stopping) == mine


def test_earliest_pending_attempt_is_the_next_due_row_or_none(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    with session_scope(engine) as s:
        assert earliest_pending_attempt(s) == NOW
    claim(engine, NOW, limit=2)
    with session_scope(engine) as s:
        assert earliest_pending_attempt(s) == NOW  # two rows not claimed yet
    claim(engine, NOW)
    with session_scope(engine) as s:
        assert earliest_pending_attempt(s) == NOW + LEASE
    dead_letter_all(engine, notification_ids)
    with session_scope(engine) as s:
        assert earliest_pending_attempt(s) is None


def test_the_webhook_body_is_the_payload_with_the_notification_id_and_kind(
    engine: Engine, notification_ids: list[int]
) -> None:
    with session_scope(engine) as s:
        [item] = claim_due_notifications(s, NOW, 1, LEASE)
    body = item.webhook_body()
    assert body == {**item.payload, "notification_id": notification_ids[0], "kind": "notified"}
    assert body["case_id"] == item.case_id and body["event_seq"] == item.event_seq


def test_a_claim_takes_the_earliest_due_rows_first_then_by_id(
    engine: Engine, notification_ids: list[int]
) -> None:
    first, second, third, fourth = notification_ids
    claim(engine, NOW)
    with session_scope(engine) as s:  # retries due after the other rows' leases run out, first last
        record_failed_attempt(s, first, NOW, "HTTP 503", 5, NOW + LEASE + timedelta(seconds=10))
        record_failed_attempt(s, second, NOW, "HTTP 503", 5, NOW + LEASE + timedelta(seconds=5))
    later = NOW + LEASE + timedelta(seconds=20)
    assert claim(engine, later, limit=3) == [third, fourth, second]
    assert claim(engine, later) == [first]
