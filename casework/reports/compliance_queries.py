"""The narrow reads behind the compliance report (casework.reports.compliance_report): the
database counts cases per group from a cases index, escalations from ``case_escalations`` and per clock reads
``clock_outcomes`` (both kept at write time by casework.history.clock_outcomes) from their covering indexes,
never the events' JSON nor whole case rows (their state JSON is most of a row) nor ORM objects.

Times to a stop are stored as whole microseconds (working: the stop's ``data.elapsed``; wall: its
``at - opened_at``), so ``micros / 10**6`` is exactly what the events give as seconds; they are
returned as those integers (the caller divides only the few it reports).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col

from models.tables import OUTCOME_GROUPS, Case, CaseEscalation, ClockOutcome


def without_jit(session: Session) -> None:
    """On PostgreSQL, no JIT compilation for the rest of the transaction: the report's scans cost
    enough (past ``jit_above_cost`` from a few hundred thousand cases) for PostgreSQL to compile them,
    which costs more than it saves on queries of tens of milliseconds (~30 ms measured, ~600 ms
    once past ``jit_inline_above_cost``)."""
    if session.connection().dialect.name == "postgresql":
        session.connection().execute(sa.text("SET LOCAL jit = off"))


def clock_names(
    session: Session, start: datetime, end: datetime, groups: Iterable[tuple[Any, ...]]
) -> dict[tuple[str, int], frozenset[str]]:
    """The clock names in the state of the cases of each policy version, read from one case of the
    period per version, found from one of its ``groups`` (values of every group column, as
    ``case_counts`` gives them) by one seek of ``ix_cases_report_groups`` each: the engine creates a
    case's clocks from its policy and keeps them zipped with it, so every case of a version holds the
    same clocks; the other states are never read."""
    one_per_version = {tuple(g[:2]): tuple(g) for g in groups}
    if not one_per_version:
        return {}
    samples = [
        sa.select(col(Case.id))
        .where(*(c == v for c, v in zip(_group_columns(Case), group, strict=True)), *_in_period(start, end))
        .limit(1)
        .scalar_subquery()
        for group in one_per_version.values()
    ]
    # One SELECT by primary key per sample, united: an OR of the samples made SQLite scan the table.
    read = [
        sa.select(col(Case.policy_id), col(Case.policy_version), col(Case.state)).where(col(Case.id) == s)
        for s in samples
    ]
    query = read[0] if len(read) == 1 else sa.union_all(*read)
    found: dict[tuple[str, int], frozenset[str]] = {}
    for policy_id, version, state in session.connection().execute(query):
        found[policy_id, version] = frozenset(str(c["name"]) for c in (state or {}).get("clocks", []))
    return found


def _key_columns(group_by: str, table: Any) -> list[Any]:
    if group_by == "policy_version":
        return [table.policy_id, table.policy_version]
    return [getattr(table, group_by)]


def group_key(group_by: str, parts: tuple[Any, ...]) -> str:
    """The report's group key from the key columns read (see ``_key_columns``)."""
    if group_by == "policy_version":
        return f"{parts[0]} v{parts[1]}"
    return str(parts[0])


def _in_period(start: datetime, end: datetime) -> list[Any]:
    return [col(Case.opened_at) >= start, col(Case.opened_at) < end]


def _group_columns(table: Any) -> list[Any]:
    """Every column the report groups by, in its indexes' order: grouping by all of them in that
    order lets SQLite read each group's period range from ``ix_cases_report_groups`` /
    ``ix_clock_outcomes_groups`` without sorting (PostgreSQL hashes them); the caller folds the few
    rows into the asked groups."""
    return [getattr(table, name) for name in OUTCOME_GROUPS]


def _key_of(group_by: str, row: Any) -> str:
    """The report's group key of a row starting with ``_group_columns``."""
    policy_id, version, incident_type, priority, queue = row[: len(OUTCOME_GROUPS)]
    if group_by == "policy_version":
        return group_key(group_by, (policy_id, version))
    return str({"incident_type": incident_type, "priority": priority, "queue": queue}[group_by])


def case_counts(
    session: Session, start: datetime, end: datetime, group_by: str
) -> Iterator[tuple[str, tuple[Any, ...], int]]:
    """(group key, values of every group column, cases) for the cases opened in ``[start, end)``,
    read from one of the report indexes alone (several rows may share a key)."""
    groups = _group_columns(Case)
    query = sa.select(*groups, sa.func.count()).where(*_in_period(start, end)).group_by(*groups)
    for row in session.connection().execute(query):
        yield _key_of(group_by, row), tuple(row[: len(groups)]), row[-1]


def escalation_counts(
    session: Session, start: datetime, end: datetime, group_by: str
) -> Iterator[tuple[str, str, int, int]]:
    """(group key, stage entered, escalations, of which by hand), read from
    ``ix_case_escalations_report`` alone; the stage is "None" when the event names none (as
    ``str(data.get("to"))``)."""
    e = CaseEscalation
    keys = _key_columns(group_by, e)
    stage = col(e.stage)
    manual = sa.func.count().filter(col(e.manual).is_(True))
    query = (
        sa.select(*keys, stage, sa.func.count(), manual)
        .where(col(e.opened_at) >= start, col(e.opened_at) < end)
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


class ClockGroup(NamedTuple):
    """The outcomes of one clock in one group (cases of one policy version): ``met`` stopped without
    a breach; ``working`` and ``wall`` the microseconds of every stopped clock (breached or not)."""

    key: str
    policy: tuple[str, int]
    clock: str
    breached: int
    met: int
    working: list[int]
    wall: list[int]
    cycles: int = 0
    missed_cycles: int = 0
    #: From the roll-ups (casework.reports.rollup_queries): the stops as sketch bins, not lists.
    working_bins: dict[int, int] | None = None
    wall_bins: dict[int, int] | None = None


def clock_groups(session: Session, start: datetime, end: datetime, group_by: str) -> Iterator[ClockGroup]:
    """Per group, policy version and clock, read from ``ix_clock_outcomes_report`` alone: the
    database counts, and concatenates the stops' microseconds (integers, so the text is exact) for
    the caller's percentiles: one row per group and clock, whatever the number of stops."""
    o = ClockOutcome
    groups = _group_columns(o)
    query = (
        sa.select(*groups, col(o.clock), *outcome_sums(session))
        .where(col(o.opened_at) >= start, col(o.opened_at) < end)
        .group_by(*groups, col(o.clock))
    )
    for row in session.connection().execute(query):
        yield clock_group(_key_of(group_by, row), (row[0], row[1]), row[len(groups) :])


def outcome_sums(session: Session) -> list[Any]:
    """What a group of ``clock_outcomes`` rows sums to: breached, met, the stops' working and wall
    microseconds (concatenated text), cycles, missed cycles (``clock_group`` reads them)."""
    o = ClockOutcome
    stopped = col(o.stop_seq).is_not(None)
    is_breached = col(o.breached).is_(True)
    return [
        sa.func.count().filter(is_breached),
        sa.func.count().filter(sa.and_(stopped, sa.not_(is_breached))),
        concat(session, sa.case((stopped, sa.func.coalesce(col(o.working_micros), 0)))),
        concat(session, sa.case((stopped, sa.func.coalesce(col(o.wall_micros), 0)))),
        sa.func.sum(col(o.cycles)),
        sa.func.sum(col(o.missed_cycles)),
    ]


def clock_group(key: str, policy: tuple[str, int], row: Sequence[Any]) -> ClockGroup:
    """The ClockGroup of a row's clock name then ``outcome_sums``."""
    clock, breached, met, workings, walls, cycles, missed = row
    return ClockGroup(
        key, policy, clock, int(breached or 0), int(met or 0), micros_of(workings), micros_of(walls),
        int(cycles or 0), int(missed or 0),
    )  # fmt: skip


def concat(session: Session, micros: Any) -> Any:
    """The non-null ``micros`` of a group as one comma-separated text (order irrelevant)."""
    if session.connection().dialect.name == "postgresql":
        return sa.func.string_agg(sa.cast(micros, sa.Text), ",")
    return sa.func.group_concat(micros, ",")


def micros_of(text: str | None) -> list[int]:
    """The concatenated integers as a list (the JSON parser reads them ~1.5x faster than ``int``)."""
    values: list[int] = json.loads(f"[{text}]") if text else []
    return values
