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

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, select

from casework.hashchain import utc_iso
from casework.stats import percentile
from models.tables import Case, CaseEvent
from sla_engine.kinds import SYSTEM_ACTOR, EventKind

_KINDS = (EventKind.BREACHED, EventKind.CLOCK_STOPPED, EventKind.ESCALATED)
BATCH = 1000


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
class _CaseOutcome:
    breached: set[str] = field(default_factory=set)
    #: clock -> (working seconds, wall seconds) at its last stop.
    stopped: dict[str, tuple[float, float]] = field(default_factory=dict)


def _group_key(case: Case, group_by: GroupBy) -> str:
    if group_by is GroupBy.POLICY_VERSION:
        return f"{case.policy_id} v{case.policy_version}"
    return str(getattr(case, str(group_by)))


def compliance_report(session: Session, start: datetime, end: datetime, group_by: GroupBy) -> dict[str, Any]:
    """The report for cases opened in ``[start, end)``, one entry per group in key order."""
    groups: dict[str, GroupTally] = {}
    clock_names: set[str] = set()
    for case, events in _cases_with_events(session, start, end):
        tally = groups.setdefault(_group_key(case, group_by), GroupTally())
        tally.cases += 1
        outcome = _outcome(case, events, tally)
        names = _clock_names(case) | outcome.breached | set(outcome.stopped)
        clock_names |= names
        for name in names:
            _count_clock(tally.clocks.setdefault(name, ClockTally()), name, outcome)
    return {
        "from": utc_iso(start),
        "to": utc_iso(end),
        "group_by": str(group_by),
        "clocks": sorted(clock_names),
        "groups": [groups[key].to_dict(key) for key in sorted(groups)],
    }


def _clock_names(case: Case) -> set[str]:
    return {c["name"] for c in (case.state or {}).get("clocks", [])}


def _count_clock(tally: ClockTally, name: str, outcome: _CaseOutcome) -> None:
    if name in outcome.breached:
        tally.breached += 1
    elif name in outcome.stopped:
        tally.met += 1
    else:
        tally.pending += 1
    if name in outcome.stopped:
        working, wall = outcome.stopped[name]
        tally.working.append(working)
        tally.wall.append(wall)


def _outcome(case: Case, events: list[CaseEvent], tally: GroupTally) -> _CaseOutcome:
    outcome = _CaseOutcome()
    for event in events:
        data = event.data
        if event.kind is EventKind.BREACHED and "clock" in data:
            outcome.breached.add(str(data["clock"]))
        elif event.kind is EventKind.CLOCK_STOPPED and "clock" in data:
            wall = (event.at - case.opened_at).total_seconds()
            outcome.stopped[str(data["clock"])] = (float(data.get("elapsed", 0.0)), wall)
        elif event.kind is EventKind.ESCALATED:
            stage = str(data.get("to"))
            tally.escalations[stage] += 1
            if event.actor != SYSTEM_ACTOR:
                tally.manual[stage] += 1
    return outcome


def _cases_with_events(
    session: Session, start: datetime, end: datetime
) -> Iterator[tuple[Case, list[CaseEvent]]]:
    """Each case opened in the period with its breached, clock_stopped and escalated events, in
    case id order, a page of cases at a time."""
    after = ""
    while True:
        query = (
            select(Case)
            .where(col(Case.opened_at) >= start, col(Case.opened_at) < end, col(Case.id) > after)
            .order_by(col(Case.id))
            .limit(BATCH)
        )
        cases = list(session.exec(query))
        if not cases:
            return
        ids = [c.id for c in cases]
        events = session.exec(
            select(CaseEvent)
            .where(col(CaseEvent.case_id).in_(ids), col(CaseEvent.kind).in_([str(k) for k in _KINDS]))
            .order_by(col(CaseEvent.case_id), col(CaseEvent.seq))
        )
        grouped = {cid: list(g) for cid, g in itertools.groupby(events, key=lambda e: e.case_id)}
        for case in cases:
            yield case, grouped.get(case.id, [])
        after = ids[-1]
