"""The compliance roll-ups (casework.history.rollups) against the exact scan, after random histories.

Each example opens cases (some backdated across days, two creator tiers so two priorities), works
them with agent actions (acknowledge, pause and resume, escalate, change priority and queue,
resolve, reopen), sweeps them at later instants (escalations, breaches), migrates the open cases
between two policy versions (rebase, recompute: the replay of a case's history under the other
version) and rebuilds the roll-ups (``lifeline reports rebuild``'s code) mid-way. Then, on the same database:

- the report from the roll-ups has the exact scan's counts (cases, met, breached, pending, cycles,
  escalations) and every median and p90 within the stated relative accuracy of the exact one, for
  a period of whole days and for one with partial first and last days, in every grouping;
- the rows kept on write are the rows a rebuild computes from scratch.

Examples accumulate in one database per backend (each opens new cases), which only makes the later
ones harder. The `ci` profile derandomizes them (tests/README.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from casework.cases.escalations import apply_due_timers, claim_due_cases
from casework.cases.lifecycle import apply_action, open_case
from casework.errors import CaseworkError
from casework.history.rollups import rebuild
from casework.migration.policy_migration import MigrationRequest, run_migration, select_cases
from casework.queries.case_queries import CaseFilters
from casework.reports.compliance_report import RELATIVE_ACCURACY, GroupBy, compliance_report
from models.db import session_scope
from models.tables import ROLLUP_CASES, ROLLUP_CLOCKS, ROLLUP_ESCALATIONS
from sla_engine.agent_actions import InvalidAction
from sla_engine.migration import MigrationMode
from sla_engine.transitions import ForbiddenTransition
from tests.audit.conftest import register_p1
from tests.casework.builders import CREATOR, T0, register
from tests.engine.builders import PARTNER_RULE, make_policy

STANDARD = {**CREATOR, "creator": {**CREATOR["creator"], "tier": "standard"}}
ACTIONS: list[tuple[str, dict[str, Any]]] = [
    ("acknowledge", {}),
    ("request_info", {}),
    ("creator_replied", {}),
    ("escalate", {"reason": "needs security"}),
    ("set_priority", {"priority": "P1"}),
    ("set_priority", {"priority": "P2"}),
    ("assign", {"queue": "tns-leads"}),
    ("resolve", {}),
    ("reopen", {"reason": "came back"}),
]
step = st.one_of(
    st.tuples(st.just("open"), st.integers(0, 3 * 24 * 60), st.booleans()),
    st.tuples(st.just("act"), st.integers(0, 30), st.integers(0, len(ACTIONS) - 1)),
    st.tuples(st.just("sweep"), st.just(0), st.just(0)),
    st.tuples(st.just("rebuild"), st.just(0), st.just(0)),
    st.tuples(st.just("migrate"), st.integers(1, 2), st.integers(0, 1)),
)
histories = st.lists(st.tuples(step, st.integers(1, 12 * 60)), min_size=3, max_size=14)


class World:
    """The database and the injected clock shared by the examples of one backend."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.now = T0 + timedelta(days=3)
        self.cases: list[str] = []

    def run(self, kind: str, a: int, b: int) -> None:
        try:
            with session_scope(self.engine) as session:
                if kind == "open":
                    opened = self.now - timedelta(minutes=a)
                    change = open_case(
                        session, incident_type="account_compromised", attributes=CREATOR if b else STANDARD,
                        actor="agent:ana", now=self.now, opened_at=opened,
                    )  # fmt: skip
                    self.cases.append(change.case.id)
                elif kind == "act" and self.cases:
                    name, args = ACTIONS[b]
                    case_id = self.cases[-1 - a % len(self.cases)]
                    apply_action(session, case_id, name, args, "agent:ana", self.now)
                elif kind == "sweep":
                    apply_due_timers(session, claim_due_cases(session, self.now, limit=50), self.now)
                elif kind == "rebuild":
                    rebuild(session.connection())
            if kind == "migrate":
                self.migrate(a, (MigrationMode.REBASE, MigrationMode.RECOMPUTE)[b])
        except (CaseworkError, InvalidAction, ForbiddenTransition):
            pass  # an action the case's state forbids: nothing written

    def migrate(self, to: int, mode: MigrationMode) -> None:
        """Every open case of the test policy to version ``to`` (each in its own transaction)."""
        request = MigrationRequest("test-policy", to, mode, "admin:root")
        with self.engine.connect() as connection, connection.begin():
            targets = select_cases(connection, "test-policy", CaseFilters())
        run_migration(self.engine, request, targets, lambda: self.now)


def _counted(row: Any, first: int) -> bool:
    """Whether a roll-up row counts anything (a row whose counts went back to 0 is kept on write)."""
    return any(v not in (0, "[0]") for v in tuple(row)[first:])


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: sorted(tuple(r) for r in conn.execute(sa.select(table)) if _counted(r, first))
            for table, first in ((ROLLUP_CASES, 6), (ROLLUP_CLOCKS, 7), (ROLLUP_ESCALATIONS, 7))
        }


def _strip(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its percentiles and source (what must be equal exactly)."""
    groups = [
        {
            **g,
            "clocks": {
                n: {**c, "working_seconds": None, "wall_seconds": None} for n, c in g["clocks"].items()
            },
        }
        for g in report["groups"]
    ]
    return {**report, "groups": groups, "source": None, "relative_accuracy": None}


def _close(rolled: float | None, exact: float | None) -> bool:
    if rolled is None or exact is None:
        return rolled is exact
    return abs(rolled - exact) <= RELATIVE_ACCURACY * abs(exact) + 1e-9


def check_reports(engine: Engine, start: datetime, end: datetime) -> None:
    for group_by in (GroupBy.INCIDENT_TYPE, GroupBy.PRIORITY, GroupBy.QUEUE, GroupBy.POLICY_VERSION):
        with session_scope(engine, write=False) as session:
            rolled = compliance_report(session, start, end, group_by)
            exact = compliance_report(session, start, end, group_by, exact=True)
        assert (rolled["source"], exact["source"]) == ("rollup", "exact")
        assert _strip(rolled) == _strip(exact)
        for r, e in zip(rolled["groups"], exact["groups"], strict=True):
            for name, clock in r["clocks"].items():
                for measure in ("working_seconds", "wall_seconds"):
                    for q in ("median", "p90"):
                        got, want = clock[measure][q], e["clocks"][name][measure][q]
                        assert _close(got, want), (group_by, r["key"], name, measure, q, got, want)


@pytest.fixture
def world(engine: Engine) -> World:
    """The test policy (v1) and a stricter v2 (new cases open under it; migrations go both ways)."""
    register_p1(engine)
    strict = {"P1": "PT10M", "P2": "PT30M"}
    register(engine, make_policy(rules=[PARTNER_RULE], first_response=strict), now=T0 - timedelta(hours=1))
    return World(engine)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(history=histories)
def test_rollups_agree_with_the_exact_scan(
    world: World, history: list[tuple[tuple[str, int, int], int]]
) -> None:
    for (kind, a, b), minutes in history:
        world.run(kind, a, b)
        world.now += timedelta(minutes=minutes)
    world.run("sweep", 0, 0)
    midnight = (T0 - timedelta(days=1)).replace(hour=0)
    check_reports(world.engine, midnight, world.now.replace(hour=0) + timedelta(days=1))
    check_reports(world.engine, midnight + timedelta(hours=30), world.now - timedelta(hours=5))
    kept = _rows(world.engine)
    with session_scope(world.engine) as session:
        rebuild(session.connection())
    assert _rows(world.engine) == kept
