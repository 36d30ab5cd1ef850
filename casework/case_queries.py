"""Read-side queries for the API: cases with filters and keyset (cursor) pagination, a case's
events, and breaches.

Pagination is by keyset, never by offset: the cursor is the sort key of the last row served, and
the next page starts strictly after it, so rows inserted meanwhile never shift a page (no row is
served twice or skipped because of an insert). Cases sort by ``next_deadline_at`` (the nearest
deadline first, cases with nothing pending last) then id; a case whose deadline moves while a
client pages is seen where it stands at each page's read. Cursors are opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Row, and_, bindparam, exists, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from casework.errors import CaseNotFound, CaseworkError
from models.tables import Breach, Case, CaseEvent, PolicyVersion
from sla_engine.kinds import Status

T = TypeVar("T")
MAX_PAGE = 500


class InvalidCursor(CaseworkError):
    def __init__(self) -> None:
        super().__init__("the cursor is not one this API gave out; start again without it")


@dataclass(frozen=True)
class PageOf(Generic[T]):
    items: list[T]
    #: The cursor of the next page, None on the last one.
    next_cursor: str | None


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if not isinstance(parts, list) or len(parts) != size:
        raise InvalidCursor()
    return parts


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidCursor() from None
    if instant.tzinfo is None:
        raise InvalidCursor()
    return instant


@dataclass(frozen=True)
class CaseFilters:
    status: Sequence[Status] = ()
    incident_type: str | None = None
    queue: str | None = None
    priority: str | None = None
    assignee: str | None = None
    breached: bool | None = None
    due_before: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.status:
            where.append(col(Case.status).in_([str(s) for s in self.status]))
        for column, value in (
            (Case.incident_type, self.incident_type),
            (Case.queue, self.queue),
            (Case.priority, self.priority),
            (Case.assignee, self.assignee),
        ):
            if value is not None:
                where.append(col(column) == value)
        if self.breached is not None:
            has_breach = exists().where(col(Breach.case_id) == col(Case.id))
            where.append(has_breach if self.breached else ~has_breach)
        if self.due_before is not None:
            where.append(col(Case.next_deadline_at) < self.due_before)
        return where


def _after_case(cursor: str) -> ColumnElement[bool]:
    deadline_text, case_id = decode_cursor(cursor, 2)
    if not isinstance(case_id, str):
        raise InvalidCursor()
    deadline = _instant(deadline_text)
    due = col(Case.next_deadline_at)
    if deadline is None:
        return and_(due.is_(None), col(Case.id) > case_id)
    return or_(due > deadline, and_(due == deadline, col(Case.id) > case_id), due.is_(None))


#: The columns a listing serves (``ListedCase``): everything but the engine state JSON.
_LISTED_COLUMNS = (
    Case.id,
    Case.incident_type,
    Case.policy_id,
    Case.policy_version,
    Case.status,
    Case.stage,
    Case.queue,
    Case.assignee,
    Case.priority,
    Case.attributes,
    Case.next_deadline_at,
    Case.opened_at,
    Case.updated_at,
    Case.version,
)

#: A listed case: a row with the attributes of ``Case`` named in ``_LISTED_COLUMNS`` (read with the
#: columns' types, datetimes UTC) and ``breached`` (whether the case has any breach).
ListedCase = Row[Any]


def list_cases(
    session: Session, filters: CaseFilters, limit: int, cursor: str | None = None
) -> PageOf[ListedCase]:
    """One page of cases matching ``filters``, nearest deadline first (none pending last), then id.

    Rows, not ``Case`` objects: a page is read-only, and building 50 ORM objects (identity map,
    instance state) cost more than the query."""
    has_breach = exists().where(col(Breach.case_id) == col(Case.id)).label("breached")
    query = sa_select(*(col(c) for c in _LISTED_COLUMNS), has_breach).where(*filters.conditions())
    if cursor:
        query = query.where(_after_case(cursor))
    deadline = col(Case.next_deadline_at)
    connection = session.connection()
    # Two queries rather than ORDER BY (next_deadline_at IS NULL): that expression defeats the
    # (queue, next_deadline_at) and next_deadline_at indexes and sorted every matching row.
    with_deadline = query.where(deadline.is_not(None)).order_by(deadline, col(Case.id)).limit(limit + 1)
    rows = list(connection.execute(with_deadline))
    if len(rows) <= limit:
        pending_none = query.where(deadline.is_(None)).order_by(col(Case.id)).limit(limit + 1 - len(rows))
        rows += list(connection.execute(pending_none))
    if len(rows) <= limit:
        return PageOf(rows, None)
    last = rows[limit - 1]
    due = last.next_deadline_at.isoformat() if last.next_deadline_at else None
    return PageOf(rows[:limit], encode_cursor(due, last.id))


def breached_case_ids(session: Session, case_ids: Sequence[str]) -> set[str]:
    if not case_ids:
        return set()
    query = select(Breach.case_id).where(col(Breach.case_id).in_(list(case_ids))).distinct()
    return set(session.exec(query))


@dataclass(frozen=True)
class CaseRead:
    """A case with whether it has a breach and the SHA-256 of its pinned policy version."""

    case: Case
    breached: bool
    policy_sha256: str | None


# Built once: building the statement per request cost about as much as running it.
_READ_CASE = select(
    Case,
    exists().where(col(Breach.case_id) == col(Case.id)),
    select(PolicyVersion.sha256)
    .where(
        col(PolicyVersion.policy_id) == col(Case.policy_id),
        col(PolicyVersion.version) == col(Case.policy_version),
    )
    .scalar_subquery(),
).where(col(Case.id) == bindparam("case_id"))


def read_case(session: Session, case_id: str) -> CaseRead:
    """The case, its breach flag and its policy version's hash in one round trip; CaseNotFound for
    an unknown id."""
    row = session.exec(_READ_CASE, params={"case_id": case_id}).first()
    if row is None:
        raise CaseNotFound(case_id)
    return CaseRead(row[0], bool(row[1]), row[2])


def get_case(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def list_events(session: Session, case_id: str, limit: int, after_seq: int = 0) -> PageOf[CaseEvent]:
    """A case's history in seq order, from ``after_seq`` + 1; CaseNotFound for an unknown case."""
    get_case(session, case_id)
    query = (
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, col(CaseEvent.seq) > after_seq)
        .order_by(col(CaseEvent.seq))
        .limit(limit + 1)
    )
    rows = list(session.exec(query))
    if len(rows) <= limit:
        return PageOf(rows, None)
    return PageOf(rows[:limit], str(rows[limit - 1].seq))


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
        due = _instant(due_text)
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
