"""The outbox's tests' scenario: four notifications on two cases, and how to read them back."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from casework.history.outbox import claim_due_notifications, record_failed_attempt, record_undeliverable
from models.db import session_scope
from models.tables import CaseEvent, Notification
from sla_engine.kinds import EventKind
from tests.casework.builders import at

NOW = at(130)
LEASE = timedelta(seconds=60)
FAILED = EventKind.NOTIFICATION_FAILED


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


def history_event(session: Session, kind: EventKind, notification_id: int) -> CaseEvent:
    [event] = [e for e in delivery_events(session, kind) if e.data["notification_id"] == notification_id]
    return event


def dead_letter_all(engine: Engine, notification_ids: list[int]) -> None:
    """Every row dead: the even ones dropped for want of a webhook, the odd ones after their last try."""
    with session_scope(engine) as s:
        for n, notification_id in enumerate(notification_ids):
            if n % 2:
                record_failed_attempt(s, notification_id, NOW, f"HTTP 503 #{n}", 1, NOW)
            else:
                record_undeliverable(s, notification_id, NOW, f"no webhook #{n}")
