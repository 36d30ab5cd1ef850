"""The narrow reads behind the compliance report (casework.reports): the database counts cases and
escalations per group and streams only the few columns of the breached and clock_stopped events the
report needs, never whole case rows (their state JSON is most of a row) nor ORM objects. Rows are
read with the driver's ordinary cursor: a PostgreSQL server-side cursor (``yield_per``) made the
event reads 2.5 times slower (no parallel plan, a round trip per batch), and the rows are small
(about 150 bytes per stop).

Wall time to a stop is read as whole microseconds computed by the database (``at - opened_at``), so
``micros / 10**6`` is exactly ``timedelta.total_seconds()`` of the same two datetimes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col

from models.tables import Case, CaseEvent
from sla_engine.kinds import SYSTEM_ACTOR, EventKind

PAGE = 5000


class ClockRow(NamedTuple):
    """A clock of a case opened in the period, named by one of its events, with the case's group
    and policy version; ``seq``, ``elapsed`` and ``wall_micros`` are a stop's (None for a breach)."""

    key: str
    policy: tuple[str, int]
    case_id: str
    clock: str
    seq: int | None
    elapsed: float | None
    wall_micros: int | None


def clock_names(session: Session, samples: Iterable[str]) -> dict[tuple[str, int], frozenset[str]]:
    """The clock names in the state of the cases of each policy version, read from one case of the
    period per version (``samples``, case ids): the engine creates a case's clocks from its policy
    and keeps them zipped with it, so every case of a version holds the same clocks; the other
    states are never read."""
    query = sa.select(col(Case.policy_id), col(Case.policy_version), col(Case.state)).where(
        col(Case.id).in_(sorted(set(samples)))
    )
    found: dict[tuple[str, int], frozenset[str]] = {}
    for policy_id, version, state in session.connection().execute(query):
        found[policy_id, version] = frozenset(str(c["name"]) for c in (state or {}).get("clocks", []))
    return found


def _key_columns(group_by: str) -> list[Any]:
    if group_by == "policy_version":
        return [col(Case.policy_id), col(Case.policy_version)]
    return [getattr(Case, group_by)]


def group_key(group_by: str, parts: tuple[Any, ...]) -> str:
    """The report's group key from the key columns read (see ``_key_columns``)."""
    if group_by == "policy_version":
        return f"{parts[0]} v{parts[1]}"
    return str(parts[0])


def _in_period(start: datetime, end: datetime) -> list[Any]:
    return [col(Case.opened_at) >= start, col(Case.opened_at) < end]


def case_counts(
    session: Session, start: datetime, end: datetime, group_by: str
) -> Iterator[tuple[str, tuple[str, int], int, str]]:
    """(group key, (policy id, version), cases, one of their ids) for the cases opened in
    ``[start, end)``, read from ``ix_cases_opened_at_report`` alone."""
    keys = _key_columns(group_by)
    policy = [col(Case.policy_id), col(Case.policy_version)]
    query = (
        sa.select(*keys, *policy, sa.func.count(), sa.func.min(col(Case.id)))
        .where(*_in_period(start, end))
        .group_by(*keys, *policy)
    )
    width = len(keys)
    for row in session.connection().execute(query):
        key = group_key(group_by, tuple(row[:width]))
        yield key, (row[width], row[width + 1]), row[width + 2], row[width + 3]


def escalation_counts(
    session: Session, start: datetime, end: datetime, group_by: str
) -> Iterator[tuple[str, str, int, int]]:
    """(group key, stage entered, escalations, of which by hand); the stage is "None" when the
    event names none (as ``str(data.get("to"))``)."""
    keys = _key_columns(group_by)
    stage = CaseEvent.data["to"].as_string()
    manual = sa.func.sum(sa.case((col(CaseEvent.actor) != SYSTEM_ACTOR, 1), else_=0))
    query = (
        sa.select(*keys, stage, sa.func.count(), manual)
        .join_from(Case, CaseEvent, col(CaseEvent.case_id) == col(Case.id))
        .where(*_in_period(start, end), col(CaseEvent.kind) == EventKind.ESCALATED)
        .group_by(*keys, stage)
    )
    width = len(keys)
    for row in session.connection().execute(query):
        yield (
            group_key(group_by, tuple(row[:width])),
            str(row[width]),
            row[width + 1],
            int(row[width + 2] or 0),
        )


def _wall_micros(dialect: str) -> Any:
    at, opened = col(CaseEvent.at), col(Case.opened_at)
    if dialect == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds apart, plus the microseconds.
        def seconds(column: Any) -> Any:
            return sa.cast(sa.func.strftime("%s", column), sa.BigInteger)

        def micros(column: Any) -> Any:
            return sa.cast(sa.func.substr(column, 21, 6), sa.BigInteger)

        return (seconds(at) - seconds(opened)) * 1_000_000 + micros(at) - micros(opened)
    return sa.cast(sa.extract("epoch", at - opened) * 1_000_000, sa.BigInteger)


def _clock_query(group_by: str, kind: EventKind, *extra: Any) -> tuple[Any, Any, Any]:
    keys = _key_columns(group_by)
    clock = CaseEvent.data["clock"].as_string()
    query = (
        sa.select(col(Case.policy_id), col(Case.policy_version), col(Case.id), clock, *extra, *keys)
        .join_from(Case, CaseEvent, col(CaseEvent.case_id) == col(Case.id))
        .where(col(CaseEvent.kind) == kind, clock.is_not(None))
    )
    return query, clock, len(extra)


def breached_clocks(session: Session, start: datetime, end: datetime, group_by: str) -> Iterator[ClockRow]:
    """Each clock with a ``breached`` event, once per case, of the cases opened in the period."""
    query, _, width = _clock_query(group_by, EventKind.BREACHED)
    yield from _rows(session, query.where(*_in_period(start, end)).distinct(), group_by, width)


def clock_stops(session: Session, start: datetime, end: datetime, group_by: str) -> Iterator[ClockRow]:
    """The ``clock_stopped`` events of the cases opened in the period, in no order, with their seq
    (a reopened case stops a clock again: the caller keeps the last), working seconds and wall
    microseconds. Asking the database for the last stop only (NOT EXISTS a later one) costs more
    than it saves: stops are rarely repeated."""
    connection = session.connection()
    query, _, width = _clock_query(
        group_by,
        EventKind.CLOCK_STOPPED,
        col(CaseEvent.seq),
        CaseEvent.data["elapsed"].as_float(),
        _wall_micros(connection.dialect.name),
    )
    yield from _rows(session, query.where(*_in_period(start, end)), group_by, width)


def _rows(session: Session, query: Any, group_by: str, width: int) -> Iterator[ClockRow]:
    """The rows a page at a time (fetchmany: iterating a result fetches them one by one)."""
    for row in itertools.chain.from_iterable(session.connection().execute(query).partitions(PAGE)):
        pid, version, case_id, clock, *rest = row
        values, parts = rest[:width], rest[width:]
        key = parts[0] if len(parts) == 1 else group_key(group_by, tuple(parts))
        seq, elapsed, wall = values if values else (None, None, None)
        wall_micros = None if wall is None else int(wall)
        yield ClockRow(str(key), (pid, version), case_id, clock, seq, elapsed, wall_micros)
