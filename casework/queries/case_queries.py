"""Read-side queries for the API: cases with filters and keyset (cursor) pagination
(casework.queries.pagination), one case, and a case's events.

Cases sort by ``next_deadline_at`` (the nearest deadline first, cases with nothing pending last)
then id; a case whose deadline moves while a client pages is seen where it stands at each page's
read.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from pydantic_core import from_json
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Dialect,
    Integer,
    Row,
    String,
    and_,
    bindparam,
    exists,
    literal_column,
    or_,
    type_coerce,
)
from sqlalchemy import select as sa_select
from sqlalchemy.sql import Executable
from sqlmodel import Session, col, select

from casework.errors import CaseNotFound, InvalidCursor
from casework.queries.pagination import PageOf, decode_cursor, encode_cursor, instant
from casework.search.conditions import CreatorField, text_match
from models.tables import Breach, Case, CaseEvent, PolicyVersion
from sla_engine.kinds import Status

#: Filters compared for equality with their column, by name.
_EQUAL = ("incident_type", "queue", "priority", "assignee", "policy_id")
#: Filters that find cases by their creator or their words (casework.search), by name.
_FOUND = ("creator", "handle", "q")


@dataclass(frozen=True)
class CaseFilters:
    status: Sequence[Status] = ()
    incident_type: str | None = None
    queue: str | None = None
    priority: str | None = None
    assignee: str | None = None
    breached: bool | None = None
    due_before: datetime | None = None
    #: ``attributes.creator.id`` and ``.handle`` (casework.search).
    creator: str | None = None
    handle: str | None = None
    #: The policy the cases pin (a policy migration's selection; not a listing parameter).
    policy_id: str | None = None
    #: Full-text words over the summary and public messages, as ``search.search_terms`` gives them.
    q: str | None = None

    def shape(self) -> tuple[Any, ...]:
        """Which filters are set, not their values (see ``_conditions``)."""
        equal = tuple(getattr(self, name) is not None for name in _EQUAL)
        found = tuple(getattr(self, name) is not None for name in _FOUND)
        return (bool(self.status), equal, self.breached, self.due_before is not None, found)

    def params(self) -> dict[str, Any]:
        """The values of the set filters, named as the bind parameters of ``_conditions``."""
        params: dict[str, Any] = {n: getattr(self, n) for n in _EQUAL if getattr(self, n) is not None}
        if self.status:
            params["status"] = [str(s) for s in self.status]
        if self.due_before is not None:
            params["due_before"] = self.due_before
        params.update({name: getattr(self, name) for name in _FOUND if getattr(self, name) is not None})
        return params


def _conditions(shape: tuple[Any, ...]) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a ``CaseFilters.shape``, values as bind parameters (``params``)."""
    status, equal, breached, due_before, found = shape
    where: list[ColumnElement[bool]] = []
    if status:
        where.append(col(Case.status).in_(bindparam("status", expanding=True)))
    for name, on in zip(_EQUAL, equal, strict=True):
        if on:
            where.append(col(getattr(Case, name)) == bindparam(name))
    if breached is not None:
        has_breach = exists().where(col(Breach.case_id) == col(Case.id))
        where.append(has_breach if breached else ~has_breach)
    if due_before:
        where.append(col(Case.next_deadline_at) < bindparam("due_before"))
    creator, handle, q = found
    if creator:
        where.append(CreatorField("id") == bindparam("creator"))
    if handle:
        where.append(CreatorField("handle") == bindparam("handle"))
    if q:
        where.append(text_match())
    return where


def _after_case(cursor: str) -> tuple[bool, dict[str, Any]]:
    """Whether the cursor's case had a deadline, and the bind parameters of ``_after`` for it."""
    deadline_text, case_id = decode_cursor(cursor, 2)
    if not isinstance(case_id, str):
        raise InvalidCursor()
    deadline = instant(deadline_text)
    if deadline is None:
        return False, {"after_id": case_id}
    return True, {"after_id": case_id, "after_due": deadline}


def _after(had_deadline: bool) -> ColumnElement[bool]:
    due, case_id = col(Case.next_deadline_at), col(Case.id)
    if not had_deadline:
        return and_(due.is_(None), case_id > bindparam("after_id"))
    after_due: BindParameter[datetime] = bindparam("after_due")
    return or_(due > after_due, and_(due == after_due, case_id > bindparam("after_id")), due.is_(None))


class ListedCase(NamedTuple):
    """A listed case: the columns the listing serves (datetimes UTC), ``breached`` (the case has a
    breach), its pinned policy version's SHA-256, then the parts of its stored engine state that
    the listing shows (``stage`` and ``clocks`` as stored, ``priority_reason``) and ``summary``:
    ``attributes.summary`` if it is a string, else None; ``creator``: ``attributes.creator`` when
    the caller asked for it (the console's queue), else None. ``case_view.case_briefs`` turns it
    into what a reader sees."""

    id: str
    incident_type: str
    policy_id: str
    policy_version: int
    status: str
    queue: str
    assignee: str | None
    priority: str
    next_deadline_at: datetime | None
    opened_at: datetime
    updated_at: datetime
    version: int
    breached: bool
    policy_sha256: str | None
    stage: dict[str, Any]
    clocks: list[dict[str, Any]]
    priority_reason: str
    summary: str | None
    creator: Any


#: The columns of ``ListedCase`` up to ``policy_sha256``, in its order.
_LISTED_COLUMNS = (
    col(Case.id),
    col(Case.incident_type),
    col(Case.policy_id),
    col(Case.policy_version),
    type_coerce(col(Case.status), String).label("status"),  # its text: no enum member per row
    col(Case.queue),
    col(Case.assignee),
    col(Case.priority),
    col(Case.next_deadline_at),
    col(Case.opened_at),
    col(Case.updated_at),
    col(Case.version),
    # OFFSET 0: PostgreSQL would otherwise hash the whole breaches table for this EXISTS, planning
    # for every row the index scan could yield rather than the page's 51 (~5 ms at 10,000
    # breaches); with it, one probe of the (case_id, ...) index per listed row.
    sa_select(literal_column("1"))
    .where(col(Breach.case_id) == col(Case.id))
    .offset(0)
    .exists()
    .label("breached"),
    select(PolicyVersion.sha256)
    .where(
        col(PolicyVersion.policy_id) == col(Case.policy_id),
        col(PolicyVersion.version) == col(Case.policy_version),
    )
    .scalar_subquery()
    .label("policy_sha256"),
)


def _reads_whole_state(dialect: Dialect) -> bool:
    """Whether the listing reads the whole stored ``state`` on this database, rather than its parts.

    On SQLite 3.38+ it reads the JSON text of ``state -> 'stage'``, ``-> 'clocks'``,
    ``-> 'priority_reason'`` and ``attributes -> 'summary'`` (see ``_json_part``): decoding every
    row's whole attributes cost more than the rest of the row. Not ``json_extract`` (older SQLite),
    which stops a string at a NUL character; not on PostgreSQL, whose ``->`` on a ``json`` column
    fails on a document holding an escaped NUL (``\\u0000``)."""
    return dialect.name != "sqlite" or sqlite3.sqlite_version_info < (3, 38)


def _part(column: Any, key: str) -> Any:
    return type_coerce(col(column).op("->")(literal_column(f"'{key}'")), String).label(key)


@functools.lru_cache(maxsize=1024)
def _listing(
    shape: tuple[Any, ...], after: bool | None, whole: bool, creators: bool
) -> tuple[Executable, Executable]:
    """The two statements of a listing (cases with a deadline; then those without) for one filter
    shape and cursor kind (None: no cursor), with bind parameters for the values and the row count;
    with ``attributes -> 'creator'`` too when ``creators`` (and the state is read by parts).
    Built once per shape: building them per request cost more than running them (and, rebuilt,
    SQLAlchemy still had to compute each one's cache key to find its compiled form)."""
    parts: tuple[Any, ...] = (
        (col(Case.state),)
        if whole
        else (
            _part(Case.state, "stage"),
            _part(Case.state, "clocks"),
            _part(Case.state, "priority_reason"),
            _part(Case.attributes, "summary"),
            *((_part(Case.attributes, "creator"),) if creators else ()),
        )
    )
    query = sa_select(*_LISTED_COLUMNS, *parts).where(*_conditions(shape))
    if after is not None:
        query = query.where(_after(after))
    deadline, rows = col(Case.next_deadline_at), bindparam("rows", type_=Integer)
    # Two queries rather than ORDER BY (next_deadline_at IS NULL): that expression defeats the
    # (queue, next_deadline_at, id) and (next_deadline_at, id) indexes and sorted every matching row.
    with_deadline = query.where(deadline.is_not(None)).order_by(deadline, col(Case.id)).limit(rows)
    pending_none = query.where(deadline.is_(None)).order_by(col(Case.id)).limit(rows)
    return with_deadline, pending_none


def _summary_text(raw: str | None) -> str | None:
    """The string that JSON text ``raw`` holds; None for any other JSON or none. A string without
    escapes is its text between the quotes (what ``json.loads`` gives, without its cost)."""
    if raw is None or not raw.startswith('"'):
        return None
    if "\\" not in raw:
        return raw[1:-1]
    text: str = json.loads(raw)
    return text


def _listed(rows: Iterable[Row[Any]], whole: bool, creators: bool) -> list[ListedCase]:
    listed = []
    width = len(_LISTED_COLUMNS)
    for row in rows:
        columns = tuple(row[:width])
        creator = None
        if whole:
            state = row[width]
            summary = state["attributes"].get("summary")
            creator = state["attributes"].get("creator") if creators else None
            parts = (state["stage"], state["clocks"], state["priority_reason"])
        else:
            stage, clocks, reason, raw_summary = row[width : width + 4]
            # pydantic_core's parser: ~3x json.loads's speed, and a page decodes two documents a row.
            parts = (from_json(stage), from_json(clocks), _summary_text(reason))
            summary = _summary_text(raw_summary)
            if creators and row[width + 4] is not None:
                creator = from_json(row[width + 4])
        summary = summary if isinstance(summary, str) else None
        listed.append(ListedCase._make((*columns, *parts, summary, creator)))
    return listed


def list_cases(
    connection: Connection,
    filters: CaseFilters,
    limit: int,
    cursor: str | None = None,
    *,
    creators: bool = False,
) -> PageOf[ListedCase]:
    """One page of cases matching ``filters``, nearest deadline first (none pending last), then id;
    with each case's ``attributes.creator`` when ``creators``. Two reads: run it in a transaction
    so that they agree.

    Rows, not ``Case`` objects: a page is read-only, and building 50 ORM objects (identity map,
    instance state) cost more than the query."""
    after, params = _after_case(cursor) if cursor else (None, {})
    whole = _reads_whole_state(connection.dialect)
    with_deadline, pending_none = _listing(filters.shape(), after, whole, creators)
    params.update(filters.params())
    rows = _listed(connection.execute(with_deadline, {**params, "rows": limit + 1}).all(), whole, creators)
    if len(rows) <= limit:
        more = connection.execute(pending_none, {**params, "rows": limit + 1 - len(rows)})
        rows += _listed(more.all(), whole, creators)
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
