"""The narrow reads behind the compliance report (casework.reports): the database counts cases and
escalations per group and streams only the few columns of the breached and clock_stopped events the
report needs, never whole case rows (their state JSON is most of a row) nor ORM objects.

Wall time to a stop is read as whole microseconds computed by the database (``at - opened_at``), so
``micros / 10**6`` is exactly ``timedelta.total_seconds()`` of the same two datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col

from models.tables import Case, CaseEvent
from sla_engine.kinds import SYSTEM_ACTOR, EventKind

STREAM_BATCH = 5000


class ClockEvent(NamedTuple):
    """A breached or clock_stopped event of a case opened in the period, with its case's group."""

    case_id: str
    key: str
    policy: tuple[str, int]
    kind: str
    clock: str
    seq: int
    elapsed: float | None
    wall_micros: int


def clock_names(
    session: Session, start: datetime, end: datetime, policies: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], frozenset[str]]:
    """The clock names in the state of the cases of each policy version, read from one case of the
    period per version: the engine creates a case's clocks from its policy and keeps them zipped
    with it, so every case of a version holds the same clocks; the other states are never read."""
    found: dict[tuple[str, int], frozenset[str]] = {}
    for policy_id, version in policies:
        query = (
            sa.select(col(Case.state))
            .where(*_in_period(start, end), col(Case.policy_id) == policy_id)
            .where(col(Case.policy_version) == version)
            .limit(1)
        )
        state = session.connection().execute(query).scalar() or {}
        found[policy_id, version] = frozenset(str(c["name"]) for c in state.get("clocks", []))
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
) -> Iterator[tuple[str, tuple[str, int], int]]:
    """(group key, (policy id, version), cases) for the cases opened in ``[start, end)``."""
    keys = _key_columns(group_by)
    policy = [col(Case.policy_id), col(Case.policy_version)]
    query = sa.select(*keys, *policy, sa.func.count()).where(*_in_period(start, end)).group_by(*keys, *policy)
    width = len(keys)
    for row in session.connection().execute(query):
        yield group_key(group_by, tuple(row[:width])), (row[width], row[width + 1]), row[width + 2]


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


def clock_events(session: Session, start: datetime, end: datetime, group_by: str) -> Iterator[ClockEvent]:
    """The breached and clock_stopped events naming a clock, of the cases opened in the period,
    streamed in no particular order."""
    keys = _key_columns(group_by)
    connection = session.connection()
    clock = CaseEvent.data["clock"].as_string()
    query = (
        sa.select(
            col(Case.id),
            col(Case.policy_id),
            col(Case.policy_version),
            sa.type_coerce(col(CaseEvent.kind), sa.String),
            clock,
            col(CaseEvent.seq),
            CaseEvent.data["elapsed"].as_float(),
            _wall_micros(connection.dialect.name),
            *keys,
        )
        .join_from(Case, CaseEvent, col(CaseEvent.case_id) == col(Case.id))
        .where(
            *_in_period(start, end),
            col(CaseEvent.kind).in_([EventKind.BREACHED, EventKind.CLOCK_STOPPED]),
            clock.is_not(None),
        )
        .execution_options(yield_per=STREAM_BATCH)
    )
    for row in connection.execute(query):
        case_id, pid, version, kind, name, seq, elapsed, wall, *parts = row
        key = group_key(group_by, tuple(parts))
        yield ClockEvent(case_id, key, (pid, version), kind, name, seq, elapsed, int(wall))
