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
events say, one row per decided clock of a case.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from casework.history.hashchain import utc_iso
from casework.reports import compliance_queries as queries


class GroupBy(StrEnum):
    INCIDENT_TYPE = "incident_type"
    PRIORITY = "priority"
    QUEUE = "queue"
    POLICY_VERSION = "policy_version"


@dataclass
class ClockTally:
    met: int = 0
    breached: int = 0
    pending: int = 0
    #: The stops' working and wall times in microseconds (exact; see casework.reports.compliance_queries).
    working: list[int] = field(default_factory=list)
    wall: list[int] = field(default_factory=list)
    #: Cycle clocks (next_reply, periodic_update): cycles decided and cycles missed, over the cases.
    cycles: int = 0
    missed_cycles: int = 0

    def to_dict(self) -> dict[str, Any]:
        decided = self.met + self.breached
        return {
            "met": self.met,
            "breached": self.breached,
            "pending": self.pending,
            "percent_met": round(100 * self.met / decided, 2) if decided else None,
            "working_seconds": _quantiles(self.working),
            "wall_seconds": _quantiles(self.wall),
            "cycles": self.cycles,
            "missed_cycles": self.missed_cycles,
        }


def _quantiles(micros: list[int]) -> dict[str, float | None]:
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


def compliance_report(session: Session, start: datetime, end: datetime, group_by: GroupBy) -> dict[str, Any]:
    """The report for cases opened in ``[start, end)``, one entry per group in key order."""
    by = str(group_by)
    queries.without_jit(session)
    counts = list(queries.case_counts(session, start, end, by))
    clocks_of = queries.clock_names(session, start, end, (values for _, values, _ in counts))
    groups: dict[str, GroupTally] = {}
    with_clock: Counter[tuple[str, str]] = Counter()
    for key, values, cases in counts:
        groups.setdefault(key, GroupTally()).cases += cases
        for name in clocks_of.get((values[0], values[1]), frozenset()):
            with_clock[key, name] += cases
    decided = _tally_clocks(session, start, end, by, groups, clocks_of)
    for (key, name), cases in with_clock.items():
        tally = groups[key].clocks.setdefault(name, ClockTally())
        tally.pending += cases - decided[key, name]
    for key, stage, count, manual in queries.escalation_counts(session, start, end, by):
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
    session: Session,
    start: datetime,
    end: datetime,
    group_by: str,
    groups: dict[str, GroupTally],
    clocks_of: dict[tuple[str, int], frozenset[str]],
) -> Counter[tuple[str, str]]:
    """Count each breached or stopped clock of a case into its group; gives, per (group, clock), how
    many of the clocks in the cases' state were decided (so the rest are pending)."""
    decided: Counter[tuple[str, str]] = Counter()
    for row in queries.clock_groups(session, start, end, group_by):
        tally = groups[row.key].clocks.setdefault(row.clock, ClockTally())
        tally.breached += row.breached
        tally.met += row.met
        tally.working += row.working
        tally.wall += row.wall
        tally.cycles += row.cycles
        tally.missed_cycles += row.missed_cycles
        if row.clock in clocks_of.get(row.policy, ()):
            decided[row.key, row.clock] += row.breached + row.met
    return decided
