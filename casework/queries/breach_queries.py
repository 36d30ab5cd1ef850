"""Read-side query for the auditors' breach listing: filters and keyset pagination by deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from casework.errors import InvalidCursor
from casework.queries.pagination import PageOf, decode_cursor, encode_cursor, instant
from models.tables import Breach


@dataclass(frozen=True)
class BreachFilters:
    since: datetime | None = None
    until: datetime | None = None
    incident_type: str | None = None
    clock: str | None = None
    stage: str | None = None
    priority: str | None = None
    case_id: str | None = None
    queue: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.since is not None:
            where.append(col(Breach.due_at) >= self.since)
        if self.until is not None:
            where.append(col(Breach.due_at) < self.until)
        for column, value in (
            (Breach.incident_type, self.incident_type),
            (Breach.priority, self.priority),
            (Breach.case_id, self.case_id),
            (Breach.queue, self.queue),
        ):
            if value is not None:
                where.append(col(column) == value)
        targets = [
            and_(col(Breach.target_type) == kind, col(Breach.target) == name)
            for kind, name in (("clock", self.clock), ("stage", self.stage))
            if name is not None
        ]
        if targets:
            where.append(or_(*targets) if len(targets) > 1 else targets[0])
        return where


def list_breaches(
    session: Session, filters: BreachFilters, limit: int, cursor: str | None = None
) -> PageOf[Breach]:
    """One page of breaches by deadline (``due_at``) then id, oldest first."""
    query = select(Breach).where(*filters.conditions())
    if cursor:
        due_text, breach_id = decode_cursor(cursor, 2)
        due = instant(due_text)
        if due is None or not isinstance(breach_id, int):
            raise InvalidCursor()
        after = or_(col(Breach.due_at) > due, and_(col(Breach.due_at) == due, col(Breach.id) > breach_id))
        query = query.where(after)
    query = query.order_by(col(Breach.due_at), col(Breach.id)).limit(limit + 1)
    rows = list(session.exec(query))
    if len(rows) <= limit:
        return PageOf(rows, None)
    last = rows[limit - 1]
    return PageOf(rows[:limit], encode_cursor(last.due_at.isoformat(), last.id))


def breach_fields(breach: Breach) -> dict[str, Any]:
    """A listed breach as a reader sees it (``api.bodies.BreachView``): ``lateness_seconds`` is
    how late the worker recorded it (detected_at - due_at)."""
    return {
        "id": breach.id,
        "case_id": breach.case_id,
        "incident_type": breach.incident_type,
        "target_type": str(breach.target_type),
        "target": breach.target,
        "priority": breach.priority,
        "queue": breach.queue,
        "due_at": breach.due_at,
        "detected_at": breach.detected_at,
        "lateness_seconds": (breach.detected_at - breach.due_at).total_seconds(),
        "event_seq": breach.event_seq,
        "policy_version": breach.policy_version,
    }
