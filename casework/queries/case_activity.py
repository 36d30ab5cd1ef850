"""A case's recent activity: who changed it last, and when (what the console shows when a form was
stale, "changed by X at T", and what its pages poll to notice a change), and the latest events of
its timeline as the case page shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Integer, String, bindparam, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from models.tables import CaseEvent


@dataclass(frozen=True)
class LastChange:
    actor: str
    at: datetime


def last_change(session: Session, case_id: str) -> LastChange | None:
    """The actor and ``recorded_at`` of the case's latest event; None for a case without events."""
    query = (
        select(CaseEvent.actor, CaseEvent.recorded_at)
        .where(CaseEvent.case_id == case_id)
        .order_by(col(CaseEvent.seq).desc())
        .limit(1)
    )
    row = session.exec(query).first()
    return None if row is None else LastChange(row[0], row[1])


class TimelineEvent(NamedTuple):
    """An event as a timeline shows it (``kind`` as its text; no hashes)."""

    seq: int
    kind: str
    at: datetime
    recorded_at: datetime
    actor: str
    dedupe_key: str | None
    data: dict[str, Any]


# Built once: building the statement per request cost about as much as running it. Newest first
# through the (case_id, seq) unique index, so the latest N cost N rows whatever the case's length.
_LATEST_EVENTS = (
    sa_select(
        col(CaseEvent.seq),
        type_coerce(col(CaseEvent.kind), String).label("kind"),  # its text: no enum member per row
        col(CaseEvent.at),
        col(CaseEvent.recorded_at),
        col(CaseEvent.actor),
        col(CaseEvent.dedupe_key),
        col(CaseEvent.data),
    )
    .where(col(CaseEvent.case_id) == bindparam("case_id"))
    .order_by(col(CaseEvent.seq).desc())
    .limit(bindparam("rows", type_=Integer))
)


def latest_events(connection: Connection, case_id: str, limit: int) -> list[TimelineEvent]:
    """The case's latest ``limit`` events, oldest first (the last one is the latest change)."""
    rows = connection.execute(_LATEST_EVENTS, {"case_id": case_id, "rows": limit}).all()
    return [TimelineEvent._make(row) for row in reversed(rows)]
