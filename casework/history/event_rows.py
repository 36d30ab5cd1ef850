"""The rows a case's change writes, as plain records, and the Core statements that write them.

Both write paths use these (casework.history.case_changes for one case, casework.history.batch_writes
for the sweep's batches): the ORM's unit of work cost more than the work itself (a validated SQLModel
object per event and outbox row, identity-map bookkeeping, a flush per step; ~0.9 ms per event when a
case opened weeks ago replays hundreds of timers). Here the rows are dataclasses whose fields are
the columns (``vars(row)`` is the INSERT's values) and are written with one executemany INSERT per
table, on the session's connection, through the tables' column types (datetimes as ``UTCDateTime``
stores them, kinds as their values, JSON as JSON), so the stored rows are the ORM's, value for value.

The rows are values, never changed once built; they are not declared frozen only because a frozen
dataclass's ``__init__`` sets each field through ``object.__setattr__``: four times the cost of a
plain one, ~2 % of a sweep's CPU for its ~26,000 event rows and their breach and outbox rows
(bench/README.md, "2026-12-04 (Friday night)").

An event's hash is ``casework.history.hashchain.compute_hash`` of the row: ``chain_events`` computes
it with ``casework.history.hashchain.body_hash`` (the same bytes as ``body_of``'s canonical JSON,
the data encoded once).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Table, bindparam, insert, update
from sqlmodel import Session, SQLModel

from casework.history.case_rows import CaseRecord
from casework.history.driver_binds import executemany
from casework.history.hashchain import body_hash, normalized_with_text
from models.kinds import BreachTarget, NotificationStatus
from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


CASES, EVENTS, BREACHES, NOTIFICATIONS = (
    _table(n) for n in ("cases", "case_events", "breaches", "notifications")
)

#: Compare-and-set of a whole case row: the WHERE names its id and the version it was read at.
UPDATE_CASE = update(CASES).where(CASES.c.id == bindparam("_id"), CASES.c.version == bindparam("_seen"))


@dataclass
class EventRow:
    """One ``case_events`` row; its fields are the columns, so ``vars(row)`` is the INSERT's values."""

    case_id: str
    seq: int
    kind: EventKind
    at: datetime
    recorded_at: datetime
    actor: str
    data: dict[str, Any]
    policy_version: int
    dedupe_key: str | None
    prev_hash: str
    hash: str


@dataclass
class BreachRow:
    """One ``breaches`` row (fields are the columns)."""

    case_id: str
    event_seq: int
    target_type: BreachTarget
    target: str
    due_at: datetime
    detected_at: datetime
    priority: str
    policy_version: int
    incident_type: str
    queue: str


@dataclass
class NotificationRow:
    """One ``notifications`` (outbox) row (fields are the columns)."""

    case_id: str
    event_seq: int
    channel: str
    payload: dict[str, Any]
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    #: None yet. Named so the INSERT gives every column: a column left to its default is fetched
    #: by SQLAlchemy first, which kept the outbox rows off the prepared path (driver_binds).
    redeliveries: int = 0


def chain_events(
    case: CaseRecord, events: Sequence[EngineEvent], now: datetime, prev_hash: str
) -> list[EventRow]:
    """``events`` as rows seq ``case.last_seq + 1``..., each sealed onto the one before."""
    rows = []
    seq, prev = case.last_seq, prev_hash
    for event in events:
        seq += 1
        # As it reads back, so the hash covers what is stored; its text serves the hash.
        data, text = normalized_with_text(event.data)
        kind = str(event.kind)
        digest = body_hash(
            case.id, seq, kind, event.at, now, event.actor, text, case.policy_version, event.dedupe_key, prev
        )
        rows.append(
            EventRow(
                case.id,
                seq,
                event.kind,
                event.at,
                now,
                event.actor,
                data,
                case.policy_version,
                event.dedupe_key,
                prev,
                digest,
            )
        )
        prev = digest
    return rows


def insert_rows(session: Session, table: Table, rows: Sequence[object]) -> None:
    """One executemany INSERT of dataclass ``rows`` (nothing when there are none)."""
    if rows:
        executemany(session.connection(), insert_of(table), [vars(row) for row in rows])


@functools.cache
def insert_of(table: Table) -> Insert:
    """The table's INSERT, built once (so its compiled form is reused: casework.history.driver_binds)."""
    return insert(table)
