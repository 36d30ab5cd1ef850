"""The compliance report's reads grouped by assignee (workload): the same rows as
casework.reports.compliance_queries gives, keyed by the case's current assignee (UNASSIGNED when
none). The assignee is the case's current state, held by the ``cases`` row only (not by
``clock_outcomes``, ``case_escalations`` nor the roll-ups), so these scans join the derived rows of
the period to their cases: always exact, and slower than the other groupings (a scan of the
period's cases and outcomes, as the exact report)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from casework.reports.compliance_queries import ClockGroup, clock_group, outcome_sums
from models.tables import OUTCOME_GROUPS, Case, CaseEscalation, ClockOutcome

UNASSIGNED = "(unassigned)"


def _who(value: str | None) -> str:
    return UNASSIGNED if value is None else value


def _period(table: Any, start: datetime, end: datetime) -> list[Any]:
    return [col(table.opened_at) >= start, col(table.opened_at) < end]


def case_counts(
    session: Session, start: datetime, end: datetime
) -> Iterator[tuple[str, tuple[Any, ...], int]]:
    """(assignee, values of every group column, cases) for the cases opened in ``[start, end)``."""
    groups = [getattr(Case, name) for name in OUTCOME_GROUPS]
    query = (
        sa.select(col(Case.assignee), *groups, sa.func.count())
        .where(*_period(Case, start, end))
        .group_by(col(Case.assignee), *groups)
    )
    for row in session.connection().execute(query):
        yield _who(row[0]), tuple(row[1:-1]), row[-1]


def clock_groups(session: Session, start: datetime, end: datetime) -> Iterator[ClockGroup]:
    """Per assignee, policy version and clock: the outcomes of the period's cases (joined)."""
    o = ClockOutcome
    keys = [col(Case.assignee), col(o.policy_id), col(o.policy_version), col(o.clock)]
    query = (
        sa.select(*keys, *outcome_sums(session))
        .join(Case, col(Case.id) == col(o.case_id))
        .where(*_period(o, start, end))
        .group_by(*keys)
    )
    for row in session.connection().execute(query):
        who, policy_id, version = row[0], str(row[1]), int(str(row[2]))
        yield clock_group(_who(None if who is None else str(who)), (policy_id, version), row[3:])


def escalation_counts(
    session: Session, start: datetime, end: datetime
) -> Iterator[tuple[str, str, int, int]]:
    """(assignee, stage entered, escalations, of which by hand) of the period's cases."""
    e = CaseEscalation
    manual = sa.func.count().filter(col(e.manual).is_(True))
    query = (
        sa.select(col(Case.assignee), col(e.stage), sa.func.count(), manual)
        .join(Case, col(Case.id) == col(e.case_id))
        .where(*_period(e, start, end))
        .group_by(col(Case.assignee), col(e.stage))
    )
    for who, stage, count, by_hand in session.connection().execute(query):
        yield _who(who), str(stage), count, int(by_hand or 0)
