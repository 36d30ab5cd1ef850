"""A webhook receiver that answers too late: the attempt times out, counts as one failed attempt and
leaves the row pending for its retry, which delivers it once (no Prefect: the plain attempt function)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from casework.cases.escalations import apply_due_timers
from casework.history.outbox import OutboxItem, claim_due_notifications
from flows.outbox_delivery import attempt_delivery
from flows.webhooks import DeliveryFailed, DeliveryPolicy, Outcome, Webhook
from models.db import session_scope
from models.kinds import NotificationStatus
from models.tables import CaseEvent, Notification
from sla_engine.kinds import EventKind
from tests.casework.builders import at, open_one, register
from tests.flows.conftest import WEBHOOK_SECRET
from tests.flows.webhook_receiver import ReceiverState

POLICY = DeliveryPolicy(max_attempts=3, timeout_seconds=0.3)


def one_claimed_notification(engine: Engine, now: datetime) -> OutboxItem:
    register(engine)
    case_id = open_one(engine).case.id
    with session_scope(engine) as s:
        apply_due_timers(s, [case_id], at(70))  # the first-response breach: one notification
        [item] = claim_due_notifications(s, now, 10, POLICY.lease)
    return item


def attempt(engine: Engine, url: str, item: OutboxItem, now: datetime) -> Outcome:
    async def run() -> Outcome:
        targets = {item.channel: Webhook(f"{url}/{item.channel}", WEBHOOK_SECRET)}
        async with httpx.AsyncClient(timeout=POLICY.timeout_seconds) as client:
            return await attempt_delivery(engine, client, targets, item, POLICY, lambda: now)

    return asyncio.run(run())


def stored(engine: Engine, notification_id: int) -> Notification:
    with session_scope(engine, write=False) as s:
        row = s.get(Notification, notification_id)
        assert row is not None
        return row


def test_a_receiver_that_times_out_is_retried_and_delivered_once(
    engine: Engine, receiver: tuple[str, ReceiverState]
) -> None:
    url, state = receiver
    # The receiver checks signatures against its own wall clock, so the sender's injected clock
    # starts at the real time of the test (and is moved explicitly from there).
    start = datetime.now(UTC).replace(microsecond=0)
    item = one_claimed_notification(engine, start)
    state.delay = 2.0  # well past the sender's 0.3 s timeout

    with pytest.raises(DeliveryFailed, match="ReadTimeout"):
        attempt(engine, url, item, start)

    row = stored(engine, item.id)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        NotificationStatus.PENDING,
        1,
        start + POLICY.lease,
    )
    assert row.last_error is not None and row.last_error.startswith("ReadTimeout")
    assert [r.body["notification_id"] for r in state.received] == [item.id]

    state.delay = 0.0
    retry_at = start + POLICY.lease
    assert attempt(engine, url, item, retry_at) is Outcome.DELIVERED

    row = stored(engine, item.id)
    assert (row.status, row.attempts, row.delivered_at) == (NotificationStatus.DELIVERED, 2, retry_at)
    # The receiver saw the same notification twice (the timed-out request and the retry).
    assert [r.body["notification_id"] for r in state.received] == [item.id, item.id]
    with session_scope(engine, write=False) as s:
        delivered = list(s.exec(select(CaseEvent).where(CaseEvent.kind == EventKind.NOTIFICATION_DELIVERED)))
    assert [(e.at, e.data["notification_id"], e.data["attempts"]) for e in delivered] == [
        (retry_at, item.id, 2)
    ]
    assert attempt(engine, url, item, retry_at + timedelta(seconds=1)) is Outcome.SKIPPED
