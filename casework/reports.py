"""The compliance report: how the cases opened in a period fared against their SLA clocks and their
escalation ladder, grouped by incident type, priority, queue or policy version.

Read from the history, never from the current clocks, so the numbers are what was recorded:

- ``cases``: cases whose ``opened_at`` is in ``[start, end)``;
- per clock, ``breached``: cases with a ``breached`` event for the clock (at any time, even if the
  clock stopped later); ``met``: cases whose clock stopped (a ``clock_stopped`` event) without a
  breach; ``pending``: neither yet. ``percent_met`` = met / (met + breached) x 100, null when both are 0;
- per clock, time to stop (first response, resolution) over the cases whose clock stopped, at its
  last stop (a reopened case counts its final resolution): ``working_seconds`` is the clock's
  working time from the ``clock_stopped`` event's ``data.elapsed`` (business hours only, pauses
  excluded), ``wall_seconds`` is ``at`` of that event minus ``opened_at``; each as median and p90
  (casework.stats: linear interpolation between ranks);
- ``escalations``: ``escalated`` events by the stage entered (``data.to``), automatic and by hand;
  ``manual_escalations``: those an agent made.

Priority and queue are the case's current ones (a case escalated to another queue counts there).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from casework import compliance_queries as queries
from casework.hashchain import utc_iso
from casework.stats import percentile
from sla_engine.kinds import EventKind


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
    working: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        decided = self.met + self.breached
        return {
            "met": self.met,
            "breached": self.breached,
            "pending": self.pending,
            "percent_met": round(100 * self.met / decided, 2) if decided else None,
            "working_seconds": _quantiles(self.working),
            "wall_seconds": _quantiles(self.wall),
        }


def _quantiles(values: list[float]) -> dict[str, float | None]:
    return {"median": percentile(values, 50), "p90": percentile(values, 90)}


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
class _ClockOfCase:
    """One clock of one case, as its events left it."""

    key: str
    in_state: bool
    breached: bool = False
    stop_seq: int = -1
    working: float = 0.0
    wall: float = 0.0


def compliance_report(session: Session, start: datetime, end: datetime, group_by: GroupBy) -> dict[str, Any]:
    """The report for cases opened in ``[start, end)``, one entry per group in key order."""
    by = str(group_by)
    counts = list(queries.case_counts(session, start, end, by))
    clocks_of = queries.clock_names(session, start, end, {policy for _, policy, _ in counts})
    groups: dict[str, GroupTally] = {}
    with_clock: Counter[tuple[str, str]] = Counter()
    for key, policy, cases in counts:
        groups.setdefault(key, GroupTally()).cases += cases
        for name in clocks_of.get(policy, frozenset()):
            with_clock[key, name] += cases
    decided = _tally_clocks(groups, _clocks_of_cases(session, start, end, by, clocks_of))
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


def _clocks_of_cases(
    session: Session,
    start: datetime,
    end: datetime,
    group_by: str,
    clocks_of: dict[tuple[str, int], frozenset[str]],
) -> dict[tuple[str, str], _ClockOfCase]:
    """(case id, clock) -> whether it breached and its last stop, for every clock an event names."""
    found: dict[tuple[str, str], _ClockOfCase] = {}
    for event in queries.clock_events(session, start, end, group_by):
        pair = found.get((event.case_id, event.clock))
        if pair is None:
            in_state = event.clock in clocks_of.get(event.policy, frozenset())
            pair = found[event.case_id, event.clock] = _ClockOfCase(event.key, in_state)
        if event.kind == EventKind.BREACHED:
            pair.breached = True
        elif event.seq > pair.stop_seq:
            pair.stop_seq = event.seq
            pair.working = 0.0 if event.elapsed is None else float(event.elapsed)
            pair.wall = event.wall_micros / 10**6
    return found


def _tally_clocks(
    groups: dict[str, GroupTally], pairs: dict[tuple[str, str], _ClockOfCase]
) -> Counter[tuple[str, str]]:
    """Count each breached or stopped clock into its group; gives, per (group, clock), how many of
    the clocks in the cases' state were decided (so the rest are pending)."""
    decided: Counter[tuple[str, str]] = Counter()
    for (_, name), pair in pairs.items():
        tally = groups[pair.key].clocks.setdefault(name, ClockTally())
        stopped = pair.stop_seq >= 0
        if pair.breached:
            tally.breached += 1
        elif stopped:
            tally.met += 1
        if stopped:
            tally.working.append(pair.working)
            tally.wall.append(pair.wall)
        if pair.in_state and (pair.breached or stopped):
            decided[pair.key, name] += 1
    return decided
