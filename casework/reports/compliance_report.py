"""The compliance report: how the cases opened in a period fared against their SLA clocks and their
escalation ladder, grouped by incident type, priority, queue or policy version.

Read from the history, never from the current clocks, so the numbers are what was recorded:

- ``cases``: cases whose ``opened_at`` is in ``[start, end)``;
- per clock, ``breached``: cases with a ``breached`` event for the clock (at any time, even if the
  clock stopped later); ``met``: cases whose clock stopped (a ``clock_stopped`` event) without a
  breach; ``pending``: neither yet. A reopened case whose clock runs again still counts its last
  stop until the clock stops again (the events hold that stop and no later one).
  ``percent_met`` = met / (met + breached) x 100, null when both are 0;
- per clock, time to stop (first response, resolution) over the cases whose clock stopped, at its
  last stop (a reopened case counts its final resolution): ``working_seconds`` is the clock's
  working time from the ``clock_stopped`` event's ``data.elapsed`` (business hours only, pauses
  excluded), ``wall_seconds`` is ``at`` of that event minus ``opened_at``; each as median and p90
  (casework.audit.stats: linear interpolation between ranks);
- ``escalations``: ``escalated`` events by the stage entered (``data.to``), automatic and by hand;
  ``manual_escalations``: those an agent made;
- per clock, ``cycles`` and ``missed_cycles``: for a cycle clock (``next_reply``,
  ``periodic_update``), the cycles its cases ended or breached and those that breached (``met``
  and ``breached`` count cases: a case with any missed cycle is breached); 0 for elapsed clocks.

Priority and queue are the case's current ones (a case escalated to another queue counts there).

The clocks are read from ``clock_outcomes`` (casework.history.clock_outcomes), which holds exactly what the
events say, one row per decided clock of a case; by default the whole UTC days of the period come
from the roll-ups kept from those rows (casework.history.rollups, casework.reports.rollup_queries):
the same counts, the percentiles within ``RELATIVE_ACCURACY``. Grouped by assignee (the case's
current one, held by ``cases`` only), the report always scans (casework.reports.assignee_queries).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from casework.history import quantile_sketch as sketch
from casework.history.hashchain import utc_iso
from casework.reports import assignee_queries, rollup_queries
from casework.reports import compliance_queries as queries


class GroupBy(StrEnum):
    INCIDENT_TYPE = "incident_type"
    PRIORITY = "priority"
    QUEUE = "queue"
    POLICY_VERSION = "policy_version"
    #: The case's current assignee (workload); always from the exact scan (assignee_queries).
    ASSIGNEE = "assignee"


class Source(StrEnum):
    """Where a report's numbers come from: the roll-ups (counts exact, percentiles within
    ``RELATIVE_ACCURACY``) or the exact scan of the period's derived rows."""

    ROLLUP = "rollup"
    EXACT = "exact"


RELATIVE_ACCURACY = sketch.RELATIVE_ACCURACY


@dataclass
class ClockTally:
    met: int = 0
    breached: int = 0
    pending: int = 0
    #: The stops' working and wall times in microseconds (exact; see casework.reports.compliance_queries).
    working: list[int] = field(default_factory=list)
    wall: list[int] = field(default_factory=list)
    #: From the roll-ups: the stops as sketch bins (the exact stops of partial days are added to them).
    working_bins: dict[int, int] | None = None
    wall_bins: dict[int, int] | None = None
    #: Cycle clocks (next_reply, periodic_update): cycles decided and cycles missed, over the cases.
    cycles: int = 0
    missed_cycles: int = 0

    def add(self, row: queries.ClockGroup) -> None:
        self.breached += row.breached
        self.met += row.met
        self.working += row.working
        self.wall += row.wall
        self.cycles += row.cycles
        self.missed_cycles += row.missed_cycles
        if row.working_bins is not None:
            self.working_bins = self.working_bins or {}
            sketch.merge(self.working_bins, row.working_bins)
        if row.wall_bins is not None:
            self.wall_bins = self.wall_bins or {}
            sketch.merge(self.wall_bins, row.wall_bins)

    def to_dict(self) -> dict[str, Any]:
        decided = self.met + self.breached
        return {
            "met": self.met,
            "breached": self.breached,
            "pending": self.pending,
            "percent_met": round(100 * self.met / decided, 2) if decided else None,
            "working_seconds": _quantiles(self.working, self.working_bins),
            "wall_seconds": _quantiles(self.wall, self.wall_bins),
            "cycles": self.cycles,
            "missed_cycles": self.missed_cycles,
        }


def _quantiles(micros: list[int], bins: dict[int, int] | None = None) -> dict[str, float | None]:
    if bins is not None:
        bins = dict(bins)
        sketch.add(bins, micros)
        return {"median": sketch.quantile(bins, 50), "p90": sketch.quantile(bins, 90)}
    ordered = sorted(micros)
    return {"median": _percentile(ordered, 50), "p90": _percentile(ordered, 90)}


def _percentile(ordered: Sequence[int], p: int) -> float | None:
    """``casework.audit.stats.percentile`` of the seconds ``m / 10**6`` of the sorted microseconds, the
    same float for float (division by 10**6 keeps the order, so the same two ranks are read), but
    dividing only those two instead of every stop."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * p / 100
    low, high = ordered[math.floor(position)] / 10**6, ordered[math.ceil(position)] / 10**6
    return low + (high - low) * (position - math.floor(position))


@dataclass
class GroupTally:
    cases: int = 0
    clocks: dict[str, ClockTally] = field(default_factory=dict)
    escalations: Counter[str] = field(default_factory=Counter)
    manual: Counter[str] = field(default_factory=Counter)

    def to_dict(self, key: str) -> dict[str, Any]:
        return {
            "key": key,
            "cases": self.cases,
            "clocks": {name: self.clocks[name].to_dict() for name in sorted(self.clocks)},
            "escalations": dict(sorted(self.escalations.items())),
            "manual_escalations": dict(sorted(self.manual.items())),
        }


@dataclass
class _Rows:
    """The report's rows of one period, from the scans, the roll-ups or the assignee scans."""

    counts: list[tuple[str, tuple[Any, ...], int]]
    clocks: list[queries.ClockGroup]
    escalations: list[tuple[str, str, int, int]]


def _exact_rows(session: Session, start: datetime, end: datetime, by: str) -> _Rows:
    if by == GroupBy.ASSIGNEE:
        return _Rows(
            list(assignee_queries.case_counts(session, start, end)),
            list(assignee_queries.clock_groups(session, start, end)),
            list(assignee_queries.escalation_counts(session, start, end)),
        )
    return _Rows(
        list(queries.case_counts(session, start, end, by)),
        list(queries.clock_groups(session, start, end, by)),
        list(queries.escalation_counts(session, start, end, by)),
    )


def _rollup_rows(session: Session, first: date, last: date, by: str) -> _Rows:
    return _Rows(
        list(rollup_queries.case_counts(session, first, last, by)),
        list(rollup_queries.clock_groups(session, first, last, by)),
        list(rollup_queries.escalation_counts(session, first, last, by)),
    )


def whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The UTC midnights bounding the whole days inside ``[start, end)``; None when there are none."""
    midnight = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight if midnight == start else midnight + timedelta(days=1)
    last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (first, last) if first < last else None


def compliance_report(
    session: Session, start: datetime, end: datetime, group_by: GroupBy, exact: bool = False
) -> dict[str, Any]:
    """The report for cases opened in ``[start, end)``, one entry per group in key order.

    By default the whole UTC days of the period come from the roll-ups (casework.history.rollups)
    and only its partial first and last days from the scans; ``exact`` (and ``group_by`` assignee,
    which no roll-up holds) scans the whole period. ``source`` says which, ``relative_accuracy`` how
    far a percentile may be from the exact one (0 when exact; counts are always exact)."""
    by = str(group_by)
    queries.without_jit(session)
    days = None if exact or group_by is GroupBy.ASSIGNEE else whole_days(start, end)
    if days is None:
        parts = [_exact_rows(session, start, end, by)]
    else:
        parts = [_rollup_rows(session, days[0].date(), days[1].date(), by)]
        parts += [_exact_rows(session, s, e, by) for s, e in ((start, days[0]), (days[1], end)) if s < e]
    report = _assemble(session, start, end, by, parts)
    report["source"] = str(Source.EXACT if days is None else Source.ROLLUP)
    report["relative_accuracy"] = 0.0 if days is None else RELATIVE_ACCURACY
    return report


def _assemble(
    session: Session, start: datetime, end: datetime, by: str, parts: list[_Rows]
) -> dict[str, Any]:
    counts = [count for part in parts for count in part.counts]
    clocks_of = queries.clock_names(session, start, end, (values for _, values, _ in counts))
    groups: dict[str, GroupTally] = {}
    with_clock: Counter[tuple[str, str]] = Counter()
    for key, values, cases in counts:
        groups.setdefault(key, GroupTally()).cases += cases
        for name in clocks_of.get((values[0], values[1]), frozenset()):
            with_clock[key, name] += cases
    decided = _tally_clocks([row for part in parts for row in part.clocks], groups, clocks_of)
    for (key, name), cases in with_clock.items():
        tally = groups[key].clocks.setdefault(name, ClockTally())
        tally.pending += cases - decided[key, name]
    for key, stage, count, manual in (e for part in parts for e in part.escalations):
        groups[key].escalations[stage] += count
        if manual:
            groups[key].manual[stage] += manual
    clock_names = {name for tally in groups.values() for name in tally.clocks}
    return {
        "from": utc_iso(start),
        "to": utc_iso(end),
        "group_by": by,
        "clocks": sorted(clock_names),
        "groups": [groups[key].to_dict(key) for key in sorted(groups)],
    }


def _tally_clocks(
    rows: list[queries.ClockGroup],
    groups: dict[str, GroupTally],
    clocks_of: dict[tuple[str, int], frozenset[str]],
) -> Counter[tuple[str, str]]:
    """Count each breached or stopped clock of a case into its group; gives, per (group, clock), how
    many of the clocks in the cases' state were decided (so the rest are pending)."""
    decided: Counter[tuple[str, str]] = Counter()
    for row in rows:
        groups.setdefault(row.key, GroupTally()).clocks.setdefault(row.clock, ClockTally()).add(row)
        if row.clock in clocks_of.get(row.policy, ()):
            decided[row.key, row.clock] += row.breached + row.met
    return decided
