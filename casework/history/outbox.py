"""The notification outbox: claim due rows for delivery, and record each outcome in the case's history.

Delivery is at-least-once with a durable record: a row is *claimed* (leased: its ``next_attempt_at``
moves ``lease`` ahead, so other workers leave it alone) in one short transaction, sent outside any
transaction, and its outcome is recorded afterwards in its own transaction. A worker that dies after
sending and before recording leaves the row pending; when the lease runs out it is sent again, with
the same ``notification_id`` in the body so the receiver can drop the duplicate. The row is never
lost, and its ``notification_delivered`` / ``notification_failed`` event is written once (dedupe key
per notification).

Like every service here: these functions flush, the caller owns the transaction. On SQLite the
caller's write transaction (``session_scope(write=True)``, BEGIN IMMEDIATE) serialises claims; on
PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, DateTime, Integer, bindparam, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from casework.errors import CaseNotFound
from casework.history.batch_writes import PlannedChange, write_changes
from casework.history.case_changes import last_hashes, write_case_change
from casework.history.hashchain import GENESIS_HASH
from models.kinds import NotificationStatus
from models.tables import Case, Notification
from models.types import UTCDateTime
from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind

#: The actor of the delivery events in a case's history.
DELIVERY_ACTOR = "system:delivery"
#: How long a claimed row is left to the worker that claimed it before another may send it again.
DEFAULT_LEASE = timedelta(seconds=60)
#: Stored error texts are cut to this many characters.
MAX_ERROR_LENGTH = 500


@dataclass(frozen=True)
class OutboxItem:
    """A claimed notification, detached from the session: everything needed to send it."""

    id: int
    case_id: str
    event_seq: int
    channel: str
    payload: dict[str, Any]
    attempts: int

    def webhook_body(self) -> dict[str, Any]:
        """The JSON body sent: the stored payload plus ``notification_id`` (for the receiver's
        de-duplication) and ``kind``."""
        return {**self.payload, "notification_id": self.id, "kind": str(EventKind.NOTIFIED)}


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def earliest_pending_attempt(session: Session) -> datetime | None:
    """When the next pending notification is due (None: nothing pending)."""
    query = select(func.min(Notification.next_attempt_at)).where(
        Notification.status == NotificationStatus.PENDING
    )
    value: datetime | None = session.exec(query).one()
    return value


def claim_due_notifications(
    session: Session, now: datetime, limit: int, lease: timedelta = DEFAULT_LEASE
) -> list[OutboxItem]:
    """Lease up to ``limit`` pending rows due at ``now`` (oldest first) to the caller: one SELECT
    of the columns an item needs (locked, skipping rows another claim holds, on PostgreSQL) and
    one UPDATE of them all. Through the ORM it was the objects and an executemany UPDATE, which
    PostgreSQL still runs as a statement per row."""
    columns = ("id", "case_id", "event_seq", "channel", "payload", "attempts")
    query = (
        sa_select(*(col(getattr(Notification, name)) for name in columns))
        .where(
            col(Notification.status) == NotificationStatus.PENDING, col(Notification.next_attempt_at) <= now
        )
        .order_by(col(Notification.next_attempt_at), col(Notification.id))
        .limit(limit)
    )
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    rows = list(session.connection().execute(query))
    if not rows:
        return []
    lease_until = now + lease
    leased = update(Notification).where(col(Notification.id).in_([row.id for row in rows]))
    session.connection().execute(leased.values(next_attempt_at=lease_until))
    return [OutboxItem(r.id, r.case_id, r.event_seq, r.channel, dict(r.payload), r.attempts) for r in rows]


def _locked_row(session: Session, notification_id: int) -> Notification | None:
    query = select(Notification).where(Notification.id == notification_id)
    if _is_postgres(session):
        query = query.with_for_update()
    return session.exec(query).first()


def _append(
    session: Session, row: Notification, kind: EventKind, now: datetime, data: dict[str, Any]
) -> None:
    query = select(Case).where(Case.id == row.case_id)
    if _is_postgres(session):
        query = query.with_for_update()
    case = session.exec(query).first()
    if case is None:
        raise CaseNotFound(row.case_id)
    base = {
        "notification_id": row.id,
        "channel": row.channel,
        "event_seq": row.event_seq,
        "attempts": row.attempts,
    }
    suffix = "delivered" if kind is EventKind.NOTIFICATION_DELIVERED else "failed"
    event = EngineEvent(kind, now, DELIVERY_ACTOR, {**base, **data}, _dedupe_key(row, suffix))
    write_case_change(session, case, None, [event], now)


def record_delivered(session: Session, notification_id: int, now: datetime, status_code: int) -> bool:
    """Mark the row delivered and write ``notification_delivered`` to the case's history.

    Returns False (and writes nothing) when the row is no longer pending: another worker recorded
    it after this one's lease ran out.
    """
    row = _locked_row(session, notification_id)
    if row is None or row.status is not NotificationStatus.PENDING:
        return False
    row.attempts += 1
    row.status = NotificationStatus.DELIVERED
    row.delivered_at = now
    row.next_attempt_at = None
    row.last_error = None
    session.add(row)
    _append(session, row, EventKind.NOTIFICATION_DELIVERED, now, {"status_code": status_code})
    return True


#: A delivery's answer: (notification id, when it answered, its status code).
Answer = tuple[int, datetime, int]

_MARK_DELIVERED = (
    update(Notification)
    .where(col(Notification.id) == bindparam("_id"))
    .values(
        status=NotificationStatus.DELIVERED,
        attempts=col(Notification.attempts) + 1,
        delivered_at=bindparam("_at", type_=UTCDateTime()),
        next_attempt_at=None,
        last_error=None,
    )
)


def record_delivered_many(session: Session, answers: Sequence[Answer], now: datetime) -> set[int]:
    """``record_delivered`` for many rows with a handful of statements (one SELECT each of the rows
    and their cases, locked on PostgreSQL in id order; one executemany UPDATE; the events through
    ``casework.history.batch_writes``): a worker delivering hundreds a second records its answers
    together rather than one transaction each. ``now`` is the events' ``recorded_at``; each event's
    ``at`` is its answer's. Returns the ids recorded; rows no longer pending are left alone."""
    by_id = {nid: (at, code) for nid, at, code in answers}
    rows = _pending_rows(session, list(by_id))
    if not rows:
        return set()
    cases_query = select(Case).where(col(Case.id).in_({row.case_id for row in rows})).order_by(col(Case.id))
    if _is_postgres(session):
        cases_query = cases_query.with_for_update()
    cases = list(session.exec(cases_query))
    events: dict[str, list[EngineEvent]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (by_id[r.id][0], r.id)):
        at, code = by_id[row.id]
        data = {"notification_id": row.id, "channel": row.channel, "event_seq": row.event_seq}
        data.update(attempts=row.attempts + 1, status_code=code)
        key = _dedupe_key_of(row.id, row.redeliveries, "delivered")
        events[row.case_id].append(
            EngineEvent(EventKind.NOTIFICATION_DELIVERED, at, DELIVERY_ACTOR, data, key)
        )
    _mark_delivered(session, [(row.id, by_id[row.id][0]) for row in rows])
    hashes = last_hashes(session, cases)
    write_changes(
        session, [PlannedChange(c, None, events[c.id], hashes.get(c.id, GENESIS_HASH)) for c in cases], now
    )
    return {row.id for row in rows}


def _mark_delivered(session: Session, marks: list[tuple[int, datetime]]) -> None:
    """Mark the (locked, pending) rows delivered, each at its own instant. On PostgreSQL one UPDATE
    joined to the arrays of ids and instants (``unnest``): an executemany there is still a statement
    per row for the server to run (with the cases' one, ~40 % of the statements' time in recording
    a batch on the 2-core test machine). SQLite runs the executemany in-process."""
    if not _is_postgres(session):
        session.connection().execute(_MARK_DELIVERED, [{"_id": nid, "_at": at} for nid, at in marks])
        return
    answered = (
        func.unnest(
            bindparam("ids", [nid for nid, _ in marks], type_=ARRAY(Integer)),
            bindparam("ats", [at for _, at in marks], type_=ARRAY(DateTime(timezone=True))),
        )
        .table_valued("id", "at")
        .render_derived(name="answered")
    )
    statement = (
        update(Notification)
        .where(col(Notification.id) == answered.c.id)
        .values(
            status=NotificationStatus.DELIVERED,
            attempts=col(Notification.attempts) + 1,
            delivered_at=answered.c.at,
            next_attempt_at=None,
            last_error=None,
        )
    )
    session.connection().execute(statement)


def _pending_rows(session: Session, ids: list[int]) -> list[Any]:
    """The given rows still pending (id, case, channel, event, attempts, redeliveries), locked on
    PostgreSQL, in id order."""
    columns = ("id", "case_id", "channel", "event_seq", "attempts", "redeliveries")
    query = (
        sa_select(*(col(getattr(Notification, name)) for name in columns))
        .where(col(Notification.id).in_(ids), col(Notification.status) == NotificationStatus.PENDING)
        .order_by(col(Notification.id))
    )
    if _is_postgres(session):
        query = query.with_for_update()
    return list(session.connection().execute(query))


def record_failed_attempt(
    session: Session, notification_id: int, now: datetime, error: str, max_attempts: int, retry_at: datetime
) -> NotificationStatus | None:
    """Count one failed attempt. Below ``max_attempts`` the row stays pending, due again at
    ``retry_at``; at ``max_attempts`` it is dead-lettered and ``notification_failed`` is written.

    Returns the row's status afterwards, or None if the row was no longer pending (nothing written).
    """
    row = _locked_row(session, notification_id)
    if row is None or row.status is not NotificationStatus.PENDING:
        return None
    row.attempts += 1
    row.last_error = error[:MAX_ERROR_LENGTH]
    if row.attempts < max_attempts:
        row.next_attempt_at = retry_at
        session.add(row)
        session.flush()
        return NotificationStatus.PENDING
    return _dead_letter(session, row, now)


def record_undeliverable(session: Session, notification_id: int, now: datetime, error: str) -> bool:
    """Dead-letter a row that no retry can deliver (its channel has no webhook configured)."""
    row = _locked_row(session, notification_id)
    if row is None or row.status is not NotificationStatus.PENDING:
        return False
    row.last_error = error[:MAX_ERROR_LENGTH]
    _dead_letter(session, row, now)
    return True


def _dead_letter(session: Session, row: Notification, now: datetime) -> NotificationStatus:
    row.status = NotificationStatus.DEAD
    row.next_attempt_at = None
    session.add(row)
    _append(session, row, EventKind.NOTIFICATION_FAILED, now, {"error": row.last_error})
    return NotificationStatus.DEAD


def pending_items(session: Session, notification_ids: list[int]) -> list[OutboxItem]:
    """The given rows that are still pending (a flow run handed ids already claimed for it)."""
    query = (
        select(Notification)
        .where(col(Notification.id).in_(notification_ids), Notification.status == NotificationStatus.PENDING)
        .order_by(col(Notification.id))
    )
    return [
        OutboxItem(row.id, row.case_id, row.event_seq, row.channel, dict(row.payload), row.attempts)
        for row in session.exec(query)
        if row.id is not None
    ]


def release_leases(session: Session, notification_ids: list[int], now: datetime) -> int:
    """Make the given rows that are still pending due at ``now`` again (a stopping worker gives
    back what it claimed but had not recorded); returns how many."""
    query = select(Notification).where(
        col(Notification.id).in_(notification_ids), Notification.status == NotificationStatus.PENDING
    )
    rows = list(session.exec(query))
    for row in rows:
        row.next_attempt_at = now
        session.add(row)
    session.flush()
    return len(rows)


def _dedupe_key(row: Notification, outcome: str) -> str:
    assert row.id is not None
    return _dedupe_key_of(row.id, row.redeliveries, outcome)


def _dedupe_key_of(notification_id: int, redeliveries: int, outcome: str) -> str:
    """``notification:<id>:<outcome>``, with ``:<n>`` after the n-th redelivery (a notification fails
    or is redelivered at most once per round)."""
    key = f"notification:{notification_id}:{outcome}"
    return f"{key}:{redeliveries}" if redeliveries else key


def redeliver(
    session: Session,
    now: datetime,
    actor: str,
    case_id: str | None = None,
    since: datetime | None = None,
) -> list[int]:
    """Queue dead notifications again (failed after their last attempt, or dropped for want of a
    channel), with their ``notification_id``, so receivers that saw one drop the repeat. Only
    those of ``case_id`` and/or queued at or after ``since`` when given. Each is due at ``now``
    with its attempts reset, and ``notification_redelivered`` (by ``actor``) is written to its
    case's history. Returns the ids, oldest first. Raises CaseNotFound for an unknown case."""
    if case_id is not None and session.get(Case, case_id) is None:
        raise CaseNotFound(case_id)
    query = select(Notification).where(Notification.status == NotificationStatus.DEAD)
    if case_id is not None:
        query = query.where(Notification.case_id == case_id)
    if since is not None:
        query = query.where(col(Notification.created_at) >= since)
    if _is_postgres(session):
        query = query.with_for_update()
    ids: list[int] = []
    for row in session.exec(query.order_by(col(Notification.id))).all():
        previous_error = row.last_error
        row.redeliveries += 1
        row.status = NotificationStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = now
        row.last_error = None
        session.add(row)
        data = {"previous_error": previous_error, "requested_by": actor}
        _append_redelivered(session, row, now, actor, data)
        assert row.id is not None
        ids.append(row.id)
    session.flush()
    return ids


def _append_redelivered(
    session: Session, row: Notification, now: datetime, actor: str, data: dict[str, Any]
) -> None:
    case = session.exec(select(Case).where(Case.id == row.case_id)).one()
    base = {"notification_id": row.id, "channel": row.channel, "event_seq": row.event_seq}
    event = EngineEvent(
        EventKind.NOTIFICATION_REDELIVERED, now, actor, {**base, **data}, _dedupe_key(row, "redelivered")
    )
    write_case_change(session, case, None, [event], now)
