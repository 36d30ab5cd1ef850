"""Writing a case's change: the case row (compare-and-set on ``version``), its chained events, and
what they imply (a breach row per ``breached`` event, an outbox row per ``notified`` event, the
clocks' outcomes: casework.history.clock_outcomes).

Everything is written on the caller's session's connection; nothing is committed here. A duplicate
dedupe key is refused by the database's unique constraint (never by a prior SELECT, which a
concurrent writer could race) and surfaces as ``DuplicateTimedEvent``: roll the transaction back.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from casework.errors import DuplicateTimedEvent, StaleVersion
from casework.history.case_rows import CaseRecord
from casework.history.clock_outcomes import write_outcomes
from casework.history.creator_messages import creator_notifications
from casework.history.event_rows import (
    BREACHES,
    EVENTS,
    NOTIFICATIONS,
    UPDATE_CASE,
    BreachRow,
    EventRow,
    NotificationRow,
    chain_events,
    insert_rows,
)
from casework.history.hashchain import GENESIS_HASH, normalize_json, utc_iso
from casework.history.id_sets import pairs_among
from models.kinds import BreachTarget, NotificationStatus
from models.tables import Case, CaseEvent
from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind
from sla_engine.state import CaseState, state_to_dict

#: The case a change holds: a ``Case`` (the API's actions) or a ``CaseRow`` (the sweep's batches).
C = TypeVar("C", bound=CaseRecord)


@dataclass
class Change(Generic[C]):
    """What one service call wrote for one case, as the rows written (in the caller's transaction,
    not committed)."""

    case: C
    events: list[EventRow] = field(default_factory=list)
    breaches: list[BreachRow] = field(default_factory=list)
    notifications: list[NotificationRow] = field(default_factory=list)
    #: The SHA-256 of the pinned policy version, when the service read it (opening a case): the
    #: caller's view of the case then needs no query for it.
    policy_sha256: str | None = None


#: The change of a ``Case`` ORM object: every service call but the sweep's batches.
CaseChange = Change[Case]


def state_columns(state: CaseState, kept: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The case row's values that mirror the engine's state: queryable columns and ``state`` JSON.
    ``kept``: the row's ``attributes`` as stored, when the caller knows the step left the
    attributes as they were read (normalizing them again cost a JSON round trip per swept case)."""
    return {
        "status": state.status,
        "stage": state.stage.id,
        "queue": state.queue,
        "priority": state.priority,
        "assignee": state.assignee,
        "attributes": normalize_json(state.attributes) if kept is None else kept,
        "updated_at": state.updated_at,
        "resolved_at": state.resolved_at,
        "next_deadline_at": state.next_deadline_at,
        "state": state_to_dict(state),
    }


def copy_state(case: Case, state: CaseState) -> None:
    """Mirror the engine's state onto the case's queryable columns and its ``state`` JSON."""
    for name, value in state_columns(state).items():
        setattr(case, name, value)


def last_hash(session: Session, case: CaseRecord) -> str:
    if case.last_seq == 0:
        return GENESIS_HASH
    query = select(CaseEvent.hash).where(CaseEvent.case_id == case.id, CaseEvent.seq == case.last_seq)
    return session.exec(query).one()


def last_hashes(session: Session, cases: Sequence[CaseRecord]) -> dict[str, str]:
    """``last_hash`` of many cases in one query: the hash of each case's event ``last_seq`` as the
    case was read (the caller holds the cases locked); cases without events are left out."""
    wanted = {c.id: c.last_seq for c in cases if c.last_seq > 0}
    if not wanted:
        return {}
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        flat = (*wanted, *itertools.chain.from_iterable(wanted.items()))
        return dict(connection.exec_driver_sql(_sqlite_last_hashes(len(wanted)), flat).fetchall())
    pairs = pairs_among(col(CaseEvent.case_id), col(CaseEvent.seq), wanted.items(), connection.dialect.name)
    query = sa.select(col(CaseEvent.case_id), col(CaseEvent.hash)).where(pairs)
    return dict(connection.execute(query).tuples().all())


@functools.lru_cache(maxsize=64)
def _sqlite_last_hashes(count: int) -> str:
    """``last_hashes``' SELECT on SQLite for ``count`` cases, as the driver's text: the statement
    ``pairs_among`` builds (the ids' ``IN`` picks the index, the row values the events), without
    SQLAlchemy compiling and expanding its ~600 binds for every batch of the sweep (~2 % of a
    batch's CPU, bench/README.md "2026-12-04 (late night)"). The ids come first, then each
    (id, seq) pair."""
    ids = ", ".join("?" * count)
    rows = ", ".join(["(?, ?)"] * count)
    where = f"case_id IN ({ids}) AND (case_id, seq) IN (VALUES {rows})"
    return f"SELECT case_id, hash FROM case_events WHERE {where}"


def write_case_change(
    session: Session,
    case: Case,
    state: CaseState | None,
    events: Sequence[EngineEvent],
    now: datetime,
    expected_version: int | None = None,
) -> CaseChange:
    """Write a stored case's step: ``version + 1`` (compare-and-set: StaleVersion if another
    transaction moved it, naming ``expected_version`` or the version read), its new state (None:
    events that leave it as it is, e.g. a delivery's record) and ``last_seq`` in one UPDATE, then
    its events and what they imply (``write_events``).

    ``case`` is updated in place as *committed* values (it reads as the database now holds it and
    the session never writes it a second time); on any error it is given back its old values."""
    seen = case.version
    rows = chain_events(case, events, now, last_hash(session, case))
    values = {
        **(state_columns(state) if state is not None else {}),
        "version": seen + 1,
        "last_seq": rows[-1].seq if rows else case.last_seq,
    }
    before = {name: getattr(case, name) for name in values}
    try:
        if session.connection().execute(UPDATE_CASE, {"_id": case.id, "_seen": seen, **values}).rowcount != 1:
            current = session.exec(select(Case.version).where(Case.id == case.id)).one()
            raise StaleVersion(case.id, expected_version if expected_version is not None else seen, current)
        set_committed(case, values)
        change = CaseChange(case)
        write_events(session, change, rows, now, before)
    except BaseException:
        set_committed(case, before)
        raise
    return change


def set_committed(case: Case, values: dict[str, Any]) -> None:
    """Set the case's attributes as loaded from the database (not pending a write)."""
    for name, value in values.items():
        set_committed_value(case, name, value)


def write_events(
    session: Session,
    change: CaseChange,
    rows: Sequence[EventRow],
    now: datetime,
    before: Mapping[str, Any] | None = None,
) -> None:
    """Insert the chained ``rows`` of ``change.case`` (whose row already holds the state after them
    and their ``last_seq``), their breach and outbox rows and the clocks' outcomes; record them all
    on ``change``. The events go first, so a repeated timed event is reported as what it is
    (``DuplicateTimedEvent``), not as a duplicate breach or notification. ``before``: the case's
    column values before the change (None for a new case), for the roll-ups (``write_outcomes``)."""
    case = change.case
    try:
        insert_rows(session, EVENTS, rows)
    except IntegrityError as exc:
        # PostgreSQL names the constraint (uq_case_events_case_id_dedupe_key), SQLite the columns.
        if "dedupe_key" in str(exc.orig):
            raise DuplicateTimedEvent(case.id) from exc
        raise
    write_outcomes(session, [(case, rows)], [before or {}])
    breaches, notifications = consequences(case, rows, now)
    insert_rows(session, BREACHES, breaches)
    insert_rows(session, NOTIFICATIONS, notifications)
    change.events.extend(rows)
    change.breaches.extend(breaches)
    change.notifications.extend(notifications)


def consequences(
    case: CaseRecord, rows: Sequence[EventRow], now: datetime
) -> tuple[list[BreachRow], list[NotificationRow]]:
    """The breach and outbox rows ``rows`` imply (``case`` holds the state after them), the
    creator's emails included (casework.history.creator_messages).

    Repeated reminders already overdue are collapsed: when one write holds several reminders of a
    stage's ``repeat_notify_every`` for the same channel (a case opened days back, a worker catching
    up after an outage), only the latest is queued, and its payload's ``superseded`` counts the
    earlier ones left unsent (their events stay in the history). Every other notification (a
    breach, a stage entered) is queued as it is."""
    breaches = [BreachRow(**breach_values(case, row, now)) for row in rows if makes_breach(row)]
    notified = [row for row in rows if makes_notification(row)]
    latest: dict[tuple[str, str], EventRow] = {}
    superseded: dict[tuple[str, str], int] = {}
    for row in notified:
        key = _reminder_key(row)
        if key is not None:
            if key in latest:
                superseded[key] = superseded.get(key, 0) + 1
            latest[key] = row
    notifications: list[NotificationRow] = []
    for row in notified:
        key = _reminder_key(row)
        if key is not None and latest[key] is not row:
            continue
        values = notification_values(case, row, now)
        if key is not None and superseded.get(key):
            values["payload"]["superseded"] = superseded[key]
        notifications.append(NotificationRow(**values))
    notifications += creator_notifications(case, rows, now)
    return breaches, notifications


def _reminder_key(row: EventRow) -> tuple[str, str] | None:
    """(channel, stage) of a repeated reminder (its data names the repeat), else None."""
    if "repeat" not in row.data:
        return None
    return str(row.data["channel"]), str(row.data.get("stage"))


def makes_breach(row: EventRow) -> bool:
    """A ``breached`` event gets a breach row."""
    return row.kind is EventKind.BREACHED


def makes_notification(row: EventRow) -> bool:
    """A ``notified`` event with a channel gets an outbox row."""
    return row.kind is EventKind.NOTIFIED and bool(row.data.get("channel"))


def breach_values(case: CaseRecord, row: EventRow, now: datetime) -> dict[str, Any]:
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


def notification_values(case: CaseRecord, row: EventRow, now: datetime) -> dict[str, Any]:
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


def notification_payload(case: CaseRecord, row: EventRow) -> dict[str, Any]:
    """The webhook body: which case, why (the notified event), and where the case stands.

    ``row.data`` must be as stored (``chain_events`` normalized it). The body is built as
    ``normalize_json`` would give it (keys sorted at every level, datetimes as UTC ISO text, kinds as
    plain text, so it is stored with the same bytes) without serialising the event's data again:
    a case opened weeks back writes hundreds of reminders."""
    data = row.data
    return {
        "at": utc_iso(row.at),
        "case": {
            "assignee": _plain(case.assignee),
            "next_deadline_at": _plain(case.next_deadline_at),
            "priority": _plain(case.priority),
            "queue": _plain(case.queue),
            "stage": _plain(case.stage),
            "status": _plain(case.status),
        },
        "case_id": _plain(case.id),
        "channel": data["channel"],
        "event": data,
        "event_seq": row.seq,
        "incident_type": _plain(case.incident_type),
        "policy_id": _plain(case.policy_id),
        "policy_version": case.policy_version,
        "reason": data.get("reason"),
    }


def _plain(value: str | datetime | None) -> str | None:
    """A column's value as JSON text reads back (a StrEnum as its value, a datetime as UTC ISO)."""
    if value is None:
        return None
    return utc_iso(value) if isinstance(value, datetime) else str(value)
