"""Workload: the open cases grouped by assignee, for the console's /console/workload (who is
drowning, who is free, what nobody has picked up).

Each group counts the open cases, those with a recorded breach (what the queue's "Breached"
filter shows), those at risk (the deadline a queue row counts down to, ``queue_rows.next_deadline``,
is inside its warn window: warned, not yet due) and gives the group's most urgent deadline (the
earliest of those deadlines: the most overdue when any is late). The words match the queue's
countdowns, so a group's numbers are what its rows show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from casework.queries.case_queries import CaseFilters, ListedCase, list_cases
from casework.queries.pagination import MAX_PAGE
from casework.queries.queue_rows import Deadline, next_deadline
from sla_engine.kinds import ACTIVE_STATUSES


@dataclass
class AssigneeLoad:
    """One assignee's open cases (``assignee`` None: nobody's)."""

    assignee: str | None
    open: int = 0
    breached: int = 0
    at_risk: int = 0
    oldest_deadline: Deadline | None = field(default=None)

    def add(self, case: ListedCase, now: datetime) -> None:
        self.open += 1
        self.breached += case.breached
        deadline = next_deadline(case.stage, case.clocks)
        if deadline is None:
            return
        self.at_risk += deadline.at_risk(now)
        if self.oldest_deadline is None or deadline.due_at < self.oldest_deadline.due_at:
            self.oldest_deadline = deadline


def open_cases(connection: Connection) -> Iterable[ListedCase]:
    """Every open case, page by page (run it in a transaction: the pages agree)."""
    filters = CaseFilters(status=tuple(sorted(ACTIVE_STATUSES)))
    cursor: str | None = None
    while True:
        page = list_cases(connection, filters, MAX_PAGE, cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def workload(connection: Connection, now: datetime, agents: Iterable[str] = ()) -> list[AssigneeLoad]:
    """The open cases by assignee at ``now``: nobody's first, then by name; every name of
    ``agents`` (the known agents) is listed, with zeros when it has no open case."""
    loads: dict[str | None, AssigneeLoad] = {None: AssigneeLoad(None)}
    loads.update((name, AssigneeLoad(name)) for name in agents)
    for case in open_cases(connection):
        loads.setdefault(case.assignee, AssigneeLoad(case.assignee)).add(case, now)
    return sorted(loads.values(), key=lambda load: (load.assignee is not None, load.assignee or ""))
