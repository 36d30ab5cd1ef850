"""What the outbox writes: each outcome on its row and once in its case's history (who, when, what,
under which dedupe key), and dead notifications queued again by an operator (issue 19's mutation
testing found these fields unchecked)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from casework.errors import CaseNotFound
from casework.history.hashchain import verify_chain
from casework.history.outbox import (
    DELIVERY_ACTOR,
    MAX_ERROR_LENGTH,
    claim_due_notifications,
    record_delivered,
    record_failed_attempt,
    record_undeliverable,
    redeliver,
)
from models.db import session_scope
from models.kinds import NotificationStatus
from sla_engine.kinds import EventKind
from tests.casework.outbox_rows import (
    FAILED,
    LEASE,
    NOW,
    claim,
    dead_letter_all,
    delivery_events,
    history_event,
    row,
)


def test_a_dead_letter_keeps_its_error_cut_to_length_in_the_row_and_the_history(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    first, second = notification_ids[:2]
    long_error = "x" * (MAX_ERROR_LENGTH + 20)
    with session_scope(engine) as s:
        assert record_undeliverable(s, first, NOW, "channel 'support-leads' has no webhook") is True
        assert record_failed_attempt(s, second, NOW, long_error, 1, NOW) is NotificationStatus.DEAD
    assert row(session, first).last_error == "channel 'support-leads' has no webhook"
    assert row(session, second).last_error == long_error[:MAX_ERROR_LENGTH]
    errors = {e.data["notification_id"]: e.data["error"] for e in delivery_events(session, FAILED)}
    assert errors == {first: "channel 'support-leads' has no webhook", second: long_error[:MAX_ERROR_LENGTH]}


def test_redeliver_queues_dead_rows_again_with_who_asked_and_the_previous_error(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    dead_letter_all(engine, notification_ids)
    case_id = row(session, notification_ids[0]).case_id
    of_case = [i for i in notification_ids if row(session, i).case_id == case_id]
    later = NOW + LEASE
    with session_scope(engine) as s:
        assert redeliver(s, later, "operator:ops", case_id=case_id) == of_case
    for notification_id in notification_ids:
        stored = row(session, notification_id)
        got = (stored.status, stored.attempts, stored.next_attempt_at, stored.last_error, stored.redeliveries)
        if notification_id in of_case:
            assert got == (NotificationStatus.PENDING, 0, later, None, 1)
        else:
            assert (got[0], got[-1]) == (NotificationStatus.DEAD, 0)
    events = delivery_events(session, EventKind.NOTIFICATION_REDELIVERED)
    assert [(e.case_id, e.actor, e.recorded_at, e.dedupe_key) for e in events] == [
        (case_id, "operator:ops", later, f"notification:{i}:redelivered:1") for i in of_case
    ]
    errors = ["no webhook #0", "HTTP 503 #1"]
    assert [e.data for e in events] == [
        {
            "notification_id": i,
            "channel": row(session, i).channel,
            "event_seq": row(session, i).event_seq,
            "previous_error": error,
            "requested_by": "operator:ops",
        }
        for i, error in zip(of_case, errors, strict=True)
    ]
    # Sent again and failed again: the outcome's key names the round, so it is written once more.
    with session_scope(engine) as s:
        assert claim_due_notifications(s, later, 10, LEASE)[0].id == of_case[0]
        record_undeliverable(s, of_case[0], later, "no webhook")
    [_, again] = [e for e in delivery_events(session, FAILED) if e.data["notification_id"] == of_case[0]]
    assert again.dedupe_key == f"notification:{of_case[0]}:failed:1"
    with session_scope(engine) as s:  # a second round: its own keys again
        assert redeliver(s, later, "operator:ops", case_id=case_id) == of_case[:1]
    assert row(session, of_case[0]).redeliveries == 2
    keys = [e.dedupe_key for e in delivery_events(session, EventKind.NOTIFICATION_REDELIVERED)]
    assert keys[-1] == f"notification:{of_case[0]}:redelivered:2"
    assert verify_chain(session) == []


@pytest.mark.parametrize(
    ("since", "case_filter", "expected"),
    [
        (None, False, "all"),
        (NOW, False, "all"),  # queued at ``since`` itself counts
        (NOW + timedelta(microseconds=1), False, "none"),
        (NOW, True, "case"),
    ],
)
def test_redeliver_takes_only_dead_rows_of_the_case_and_queued_since(
    engine: Engine,
    session: Session,
    notification_ids: list[int],
    since: datetime | None,
    case_filter: bool,
    expected: str,
) -> None:
    dead_letter_all(engine, notification_ids[1:])  # the first stays pending
    case_id = row(session, notification_ids[-1]).case_id
    wanted = {
        "all": notification_ids[1:],
        "none": [],
        "case": [i for i in notification_ids[1:] if row(session, i).case_id == case_id],
    }[expected]
    with session_scope(engine) as s:
        ids = redeliver(s, NOW, "operator:ops", case_id=case_id if case_filter else None, since=since)
    assert ids == wanted
    assert [row(session, i).status for i in notification_ids] == [
        NotificationStatus.PENDING if i in wanted or i == notification_ids[0] else NotificationStatus.DEAD
        for i in notification_ids
    ]


def test_redeliver_refuses_an_unknown_case(engine: Engine, notification_ids: list[int]) -> None:
    dead_letter_all(engine, notification_ids)
    with session_scope(engine) as s, pytest.raises(CaseNotFound) as refused:
        redeliver(s, NOW, "operator:ops", case_id="cs_nope")
    assert refused.value.case_id == "cs_nope"


def test_a_delivery_is_recorded_on_its_row_and_in_its_case_history_after_a_failed_try(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    last = notification_ids[-1]  # of the second case
    claim(engine, NOW)
    delivered_at = NOW + timedelta(minutes=2)
    with session_scope(engine) as s:
        record_failed_attempt(s, last, NOW, "HTTP 503", 3, NOW + timedelta(minutes=1))
        assert record_delivered(s, last, delivered_at, 204) is True
    stored = row(session, last)
    assert (
        stored.status,
        stored.attempts,
        stored.delivered_at,
        stored.next_attempt_at,
        stored.last_error,
    ) == (
        NotificationStatus.DELIVERED,
        2,
        delivered_at,
        None,
        None,
    )
    event = history_event(session, EventKind.NOTIFICATION_DELIVERED, last)
    assert (event.case_id, event.actor, event.at, event.recorded_at, event.dedupe_key) == (
        stored.case_id,
        DELIVERY_ACTOR,
        delivered_at,
        delivered_at,
        f"notification:{last}:delivered",
    )
    assert event.data == {
        "notification_id": last,
        "channel": stored.channel,
        "event_seq": stored.event_seq,
        "attempts": 2,
        "status_code": 204,
    }


def test_a_dead_letter_is_recorded_in_its_case_history_once_with_its_attempts_and_error(
    engine: Engine, session: Session, notification_ids: list[int]
) -> None:
    last = notification_ids[-1]
    claim(engine, NOW)
    with session_scope(engine) as s:
        record_failed_attempt(s, last, NOW, "HTTP 503", 2, NOW)
        record_failed_attempt(s, last, NOW + LEASE, "timed out", 2, NOW)
    stored = row(session, last)
    event = history_event(session, FAILED, last)
    assert (event.case_id, event.actor, event.recorded_at, event.dedupe_key) == (
        stored.case_id,
        DELIVERY_ACTOR,
        NOW + LEASE,
        f"notification:{last}:failed",
    )
    assert event.data == {
        "notification_id": last,
        "channel": stored.channel,
        "event_seq": stored.event_seq,
        "attempts": 2,
        "error": "timed out",
    }
