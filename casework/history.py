"""Writing a case's change: the case row (compare-and-set on ``version``), its chained events, and
what they imply (a breach row per ``breached`` event, an outbox row per ``notified`` event).

Everything is added to the caller's session and flushed; nothing is committed here. A duplicate
dedupe key is refused by the database's unique constraint (never by a prior SELECT, which a
concurrent writer could race) and surfaces as ``DuplicateTimedEvent``: roll the transaction back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from casework.errors import DuplicateTimedEvent, StaleVersion
from casework.hashchain import GENESIS_HASH, normalize_json, seal
from models.kinds import BreachTarget, NotificationStatus
from models.tables import Breach, Case, CaseEvent, Notification
from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind
from sla_engine.state import CaseState, state_to_dict


class EventRecord(Protocol):
    """A written event as callers read it: a ``CaseEvent`` row (single-case services) or the
    batch writer's plain record (casework.batch_writes); same names, same values."""

    @property
    def case_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def at(self) -> datetime: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def policy_version(self) -> int: ...
    @property
    def dedupe_key(self) -> str | None: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


class BreachRecord(Protocol):
    """A written breach row (``Breach`` or the batch writer's record)."""

    @property
    def case_id(self) -> str: ...
    @property
    def event_seq(self) -> int: ...
    @property
    def target_type(self) -> BreachTarget: ...
    @property
    def target(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...


class NotificationRecord(Protocol):
    """A written outbox row (``Notification`` or the batch writer's record)."""

    @property
    def case_id(self) -> str: ...
    @property
    def event_seq(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...


@dataclass
class CaseChange:
    """What one service call wrote for one case (all rows flushed, not committed)."""

    case: Case
    events: list[EventRecord] = field(default_factory=list)
    breaches: list[BreachRecord] = field(default_factory=list)
    notifications: list[NotificationRecord] = field(default_factory=list)


def state_columns(state: CaseState) -> dict[str, Any]:
    """The case row's values that mirror the engine's state: queryable columns and ``state`` JSON."""
    return {
        "status": state.status,
        "stage": state.stage.id,
        "queue": state.queue,
        "priority": state.priority,
        "assignee": state.assignee,
        "attributes": normalize_json(state.attributes),
        "updated_at": state.updated_at,
        "resolved_at": state.resolved_at,
        "next_deadline_at": state.next_deadline_at,
        "state": state_to_dict(state),
    }


def copy_state(case: Case, state: CaseState) -> None:
    """Mirror the engine's state onto the case's queryable columns and its ``state`` JSON."""
    for name, value in state_columns(state).items():
        setattr(case, name, value)


def bump_version(session: Session, case: Case, expected_version: int | None = None) -> None:
    """Compare-and-set ``version`` to ``version + 1``; StaleVersion if another transaction moved it.

    With the row already locked (PostgreSQL FOR UPDATE, SQLite BEGIN IMMEDIATE) this always holds;
    it is the guard for callers that read the case outside their write transaction.
    """
    seen = case.version
    result = session.execute(
        update(Case)
        .where(col(Case.id) == case.id, col(Case.version) == seen)
        .values(version=seen + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        current = session.exec(select(Case.version).where(Case.id == case.id)).one()
        raise StaleVersion(case.id, expected_version if expected_version is not None else seen, current)
    case.version = seen + 1


def last_hash(session: Session, case: Case) -> str:
    if case.last_seq == 0:
        return GENESIS_HASH
    query = select(CaseEvent.hash).where(CaseEvent.case_id == case.id, CaseEvent.seq == case.last_seq)
    return session.exec(query).one()


def last_hashes(session: Session, cases: Sequence[Case]) -> dict[str, str]:
    """``last_hash`` of many cases in one query (cases without events are left out)."""
    wanted = {c.id: c.last_seq for c in cases if c.last_seq > 0}
    if not wanted:
        return {}
    query = select(CaseEvent.case_id, CaseEvent.seq, CaseEvent.hash).where(col(CaseEvent.case_id).in_(wanted))
    query = query.where(
        col(CaseEvent.seq) == select(Case.last_seq).where(Case.id == CaseEvent.case_id).scalar_subquery()
    )
    return {cid: h for cid, seq, h in session.exec(query) if wanted.get(cid) == seq}


def append_events(
    session: Session,
    change: CaseChange,
    events: Sequence[EngineEvent],
    now: datetime,
    prev_hash: str | None = None,
) -> None:
    """Append ``events`` to the case's chain (seq ``last_seq + 1``...), with their breach and outbox
    rows, then flush. ``now`` is ``recorded_at``; each event's ``at`` is the engine's. ``prev_hash``
    (the hash of event ``last_seq``, from ``last_hashes``) saves a query when the caller has it."""
    case = change.case
    prev = prev_hash if prev_hash is not None and case.last_seq > 0 else last_hash(session, case)
    rows = []
    for event in events:
        row = CaseEvent(
            case_id=case.id,
            seq=case.last_seq + 1,
            kind=event.kind,
            at=event.at,
            recorded_at=now,
            actor=event.actor,
            data=normalize_json(event.data),
            policy_version=case.policy_version,
            dedupe_key=event.dedupe_key,
            prev_hash=prev,
            hash="",
        )
        seal(row)
        rows.append(row)
        case.last_seq = row.seq
        prev = row.hash
    session.add(case)
    session.add_all(rows)
    _flush_events(session, case.id)
    change.events.extend(rows)
    for row in rows:
        _add_consequences(session, change, row, now)
    session.flush()


def _flush_events(session: Session, case_id: str) -> None:
    """Flush the events before anything derived from them, so a repeated timed event is reported
    as what it is (its dedupe key), not as a duplicate breach or notification."""
    try:
        session.flush()
    except IntegrityError as exc:
        # PostgreSQL names the constraint (uq_case_events_case_id_dedupe_key), SQLite the columns.
        if "dedupe_key" in str(exc.orig):
            raise DuplicateTimedEvent(case_id) from exc
        raise


def _add_consequences(session: Session, change: CaseChange, row: CaseEvent, now: datetime) -> None:
    if makes_breach(row):
        breach = Breach(**breach_values(change.case, row, now))
        session.add(breach)
        change.breaches.append(breach)
    elif makes_notification(row):
        note = Notification(**notification_values(change.case, row, now))
        session.add(note)
        change.notifications.append(note)


def makes_breach(row: EventRecord) -> bool:
    """A ``breached`` event gets a breach row."""
    return row.kind is EventKind.BREACHED


def makes_notification(row: EventRecord) -> bool:
    """A ``notified`` event with a channel gets an outbox row."""
    return row.kind is EventKind.NOTIFIED and bool(row.data.get("channel"))


def breach_values(case: Case, row: EventRecord, now: datetime) -> dict[str, Any]:
    """The breach row of a ``breached`` event (``case`` already holds the state after the event)."""
    data = row.data
    target_type = BreachTarget.CLOCK if "clock" in data else BreachTarget.STAGE
    return {
        "case_id": case.id,
        "event_seq": row.seq,
        "target_type": target_type,
        "target": str(data["clock"] if target_type is BreachTarget.CLOCK else data["stage"]),
        "due_at": row.at,
        "detected_at": now,
        "priority": str(data.get("priority") or case.priority),
        "policy_version": case.policy_version,
        "incident_type": case.incident_type,
        "queue": str(data.get("queue") or case.queue),
    }


def notification_values(case: Case, row: EventRecord, now: datetime) -> dict[str, Any]:
    """The outbox row of a ``notified`` event, pending and due at once."""
    return {
        "case_id": case.id,
        "event_seq": row.seq,
        "channel": str(row.data["channel"]),
        "payload": notification_payload(case, row),
        "status": NotificationStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def notification_payload(case: Case, row: EventRecord) -> dict[str, Any]:
    """The webhook body: which case, why (the notified event), and where the case stands."""
    return normalize_json(
        {
            "case_id": case.id,
            "event_seq": row.seq,
            "channel": row.data["channel"],
            "at": row.at,
            "reason": row.data.get("reason"),
            "incident_type": case.incident_type,
            "policy_id": case.policy_id,
            "policy_version": case.policy_version,
            "event": row.data,
            "case": {
                "status": case.status,
                "priority": case.priority,
                "stage": case.stage,
                "queue": case.queue,
                "assignee": case.assignee,
                "next_deadline_at": case.next_deadline_at,
            },
        }
    )
