"""The auditor's verification: every case's hash chain, then a replay of its recorded actions
against its pinned policy version (casework.audit.replay), with the lateness of timed events.

Cases are read in pages of ``PAGE`` ids, each page's events at once, so memory stays bounded by a
page however large the database. ``since`` limits the run to cases with an event recorded at or
after it (an incremental audit); their chains are still checked from seq 1, since a chain can only
be verified whole. Read-only: run it in a ``session_scope(engine, write=False)``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from casework.audit.replay import CaseReplay, Finding, replay_case
from casework.audit.stats import summary
from casework.errors import CaseNotFound
from casework.history.hashchain import verify_case_events
from casework.registry import policy_registry
from models.tables import Case, CaseEvent
from sla_engine.migration import Versioned

PAGE = 500


@dataclass
class VerifyReport:
    """What ``verify`` found. ``clean`` is true when no chain problem and no finding was found;
    overdue timers are reported but do not make a database unclean (the record is intact; the
    worker is behind)."""

    checked_at: datetime
    cases: int = 0
    events: int = 0
    chain_problems: list[Finding] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.chain_problems and not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "checked_at": self.checked_at.isoformat(),
            "cases_checked": self.cases,
            "events_checked": self.events,
            "chain_problems": [p.to_dict() for p in self.chain_problems],
            "replay_findings": [f.to_dict() for f in self.findings],
            "lateness_seconds": {
                "count": len(self.lateness),
                **summary(self.lateness, (50, 99)),
                "max": max(self.lateness) if self.lateness else None,
            },
            "overdue": self.overdue,
        }


def verify(
    session: Session, now: datetime, case_id: str | None = None, since: datetime | None = None
) -> VerifyReport:
    """Check the chain and replay of every case (or one, or those changed since ``since``).

    Raises CaseNotFound for an unknown ``case_id``."""
    report = VerifyReport(checked_at=now)
    if case_id is not None and session.get(Case, case_id) is None:
        raise CaseNotFound(case_id)
    for page in _case_pages(session, case_id, since):
        _verify_page(session, page, now, report)
    return report


def _case_pages(session: Session, case_id: str | None, since: datetime | None) -> Iterator[list[str]]:
    if case_id is not None:
        yield [case_id]
        return
    after = ""
    while True:
        query = select(Case.id).where(col(Case.id) > after).order_by(col(Case.id)).limit(PAGE)
        if since is not None:
            changed = select(CaseEvent.case_id).where(col(CaseEvent.recorded_at) >= since)
            query = query.where(col(Case.id).in_(changed))
        ids = list(session.exec(query))
        if not ids:
            return
        yield ids
        after = ids[-1]


def _verify_page(session: Session, ids: Sequence[str], now: datetime, report: VerifyReport) -> None:
    cases = {c.id: c for c in session.exec(select(Case).where(col(Case.id).in_(ids)))}
    query = select(CaseEvent).where(col(CaseEvent.case_id).in_(ids))
    events = session.exec(query.order_by(col(CaseEvent.case_id), col(CaseEvent.seq)))
    grouped = {cid: list(group) for cid, group in itertools.groupby(events, key=lambda e: e.case_id)}
    for cid in ids:
        case_events = grouped.get(cid, [])
        report.cases += 1
        report.events += len(case_events)
        _verify_case(session, cases[cid], case_events, now, report)


def _verify_case(
    session: Session, case: Case, events: Sequence[CaseEvent], now: datetime, report: VerifyReport
) -> None:
    problem = verify_case_events(case.id, events, case.last_seq)
    if problem is not None:
        report.chain_problems.append(
            Finding(case.id, problem.seq, str(problem.kind), problem.detail, _at_seq(events, problem.seq))
        )
    replayed: CaseReplay = replay_case(_versions(session, case.policy_id), case, events, now)
    report.findings.extend(replayed.findings)
    report.lateness.extend(replayed.lateness)
    report.overdue.extend(replayed.overdue)


def _versions(session: Session, policy_id: str) -> Callable[[int], Versioned]:
    """The registered versions of ``policy_id`` a replay asks for (parsed once per process)."""

    def version(number: int) -> Versioned:
        return Versioned(number, *policy_registry.get_policy(session, policy_id, number))

    return version


def _at_seq(events: Sequence[CaseEvent], seq: int) -> dict[str, Any] | None:
    for event in events:
        if event.seq == seq:
            return {
                "kind": str(event.kind),
                "at": event.at.isoformat(),
                "actor": event.actor,
                "data": event.data,
                "hash": event.hash,
                "prev_hash": event.prev_hash,
            }
    return None


def render_text(report: VerifyReport) -> str:
    """The human report of ``lifeline audit verify``."""
    data = report.to_dict()
    lines = [f"Checked {report.cases} cases, {report.events} events (at {data['checked_at']})."]
    if report.clean:
        lines.append("Clean: every hash chain holds and every replay matches the recorded history.")
    for problem in report.chain_problems:
        lines.append(f"CHAIN  case {problem.case_id} seq {problem.seq}: {problem.problem}: {problem.detail}")
    for finding in report.findings:
        lines.append(f"REPLAY case {finding.case_id} seq {finding.seq}: {finding.problem}: {finding.detail}")
        if finding.recorded is not None:
            lines.append(f"         recorded: {_short(finding.recorded)}")
        if finding.expected is not None:
            lines.append(f"         expected: {_short(finding.expected)}")
    late = data["lateness_seconds"]
    if late["count"]:
        lines.append(
            f"Lateness of {late['count']} timed events (recorded_at - at): "
            f"p50 {late['p50']:.3f} s, p99 {late['p99']:.3f} s, max {late['max']:.3f} s"
        )
    else:
        lines.append("No timed event recorded by the worker yet.")
    if report.overdue:
        lines.append(f"Overdue now (the worker is behind or down): {len(report.overdue)} timers, e.g.")
        for item in report.overdue[:5]:
            lines.append(f"  case {item['case_id']}: {item['timer']} {item['target']} due {item['due_at']}")
    problems = len(report.chain_problems) + len(report.findings)
    if problems:
        lines.append(f"{len(report.chain_problems)} chain problems, {len(report.findings)} replay findings.")
    return "\n".join(lines)


def _short(value: dict[str, Any]) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 400 else text[:397] + "..."
