"""Escalation application: find the cases whose next deadline has passed, and apply their timers.

The worker's transaction, per batch:

    with session_scope(engine) as session:            # BEGIN IMMEDIATE on SQLite
        cases = claim_due_cases(session, now, limit=200)   # FOR UPDATE SKIP LOCKED on PostgreSQL
        changes = apply_due_timers(session, cases, now)
    # committed: events, breaches, outbox rows, state and next_deadline_at together

Several workers on PostgreSQL each claim a disjoint batch (SKIP LOCKED); on SQLite one writer at a
time holds the lock. The same timer is never written twice: its dedupe key is unique per case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.sql.selectable import Select
from sqlmodel import Session, col, select

from casework.errors import CaseNotFound
from casework.history.batch_writes import (
    PlannedChange,
    PreparedChanges,
    move_deadlines,
    prepare_changes,
    write_prepared,
)
from casework.history.case_changes import C, Change, last_hash, last_hashes
from casework.history.case_rows import COLUMNS, CaseRow
from casework.history.event_rows import CASES
from casework.history.hashchain import GENESIS_HASH
from casework.links.child_breach import breached, escalate_parents, lock_parents
from casework.registry import policy_registry
from models.tables import Case
from policies.model import Policy
from sla_engine import cases as engine
from sla_engine.business_time import BusinessCalendar
from sla_engine.state import state_from_dict

#: A SELECT of the ORM's ``Case`` objects or of the columns.
Q = TypeVar("Q", bound=Select[Any])
#: Where a due case sorts: its ``next_deadline_at`` and id (the index ``ix_cases_next_deadline_at_id``).
DueKey = tuple[datetime, str]


def claim_due_cases(session: Session, now: datetime, limit: int = 200) -> list[Case]:
    """Up to ``limit`` cases with ``next_deadline_at <= now``, earliest first, locked for this
    transaction. PostgreSQL skips rows another worker holds; on SQLite the caller's write scope
    (BEGIN IMMEDIATE) is the lock."""
    query = _due(session, select(Case), now, limit)
    return list(session.exec(query.execution_options(populate_existing=True)))


def claim_due_rows(session: Session, now: datetime, limit: int = 200) -> list[CaseRow]:
    """``claim_due_cases`` as plain ``CaseRow`` records, read with a Core SELECT: the sweep's
    claim (flows.sweep_batches), which never needs the ORM's objects (see casework.history.case_rows)."""
    query = _due(session, sa.select(*COLUMNS), now, limit)
    return [CaseRow(*row) for row in session.connection().execute(query).fetchall()]


def _due(session: Session, query: Q, now: datetime, limit: int) -> Q:
    """``query`` limited to the due cases, earliest first, locked (skipping locked rows on PostgreSQL)."""
    query = (
        query.where(col(Case.next_deadline_at) <= now)
        .order_by(col(Case.next_deadline_at), col(Case.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


def next_deadline(session: Session) -> datetime | None:
    """The earliest pending deadline of any case: when the worker should wake next."""
    return session.exec(select(func.min(Case.next_deadline_at))).one()


def apply_due_timers(
    session: Session, cases: Sequence[Case | CaseRow | str], now: datetime
) -> list[Change[Case | CaseRow]]:
    """Fire every timer due by ``now`` on each case, in deadline order, and write the events, one
    breach row per ``breached`` event, one outbox row per ``notified`` event, the new state and
    ``next_deadline_at``; ``version`` goes up by one per changed case. Case ids are locked here;
    rows must come from ``claim_due_cases`` or ``claim_due_rows`` in this transaction, and are
    updated in place to what is written. Returns the changed cases.

    The whole batch is written with a few statements (casework.history.batch_writes), not per case; a case
    listed twice is advanced once. StaleVersion / DuplicateTimedEvent: roll the transaction back."""
    rows = _distinct(_locked_rows(session, cases))
    return write_plan(session, plan_due_timers(session, rows, now), now)


@dataclass
class SweepPlan(Generic[C]):
    """What the engine decided for a batch of distinct cases, before anything is written: the
    changes (with their chain heads) and the cases whose deadline only moved; ``seen``: each case's
    version and ``last_seq`` as read. ``prepared``: the changes' rows, when built in advance (the
    cases then hold their new values)."""

    read: list[C]
    planned: list[PlannedChange[C]] = field(default_factory=list)
    moved: list[tuple[C, datetime | None]] = field(default_factory=list)
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    prepared: PreparedChanges[C] | None = None


def plan_due_timers(
    session: Session, rows: Sequence[C], now: datetime, *, prepare: bool = False
) -> SweepPlan[C]:
    """Advance each case (distinct) to ``now`` and read its chain head; writes nothing. The plan
    holds only while the cases stay as read: write it in the transaction that read them (the
    rows locked), or check it first with :func:`still_as_read`. ``prepare``: build the rows to
    write now, and bind them for the session's database (``batch_writes.prepare_changes``),
    before the write transaction."""
    hashes = last_hashes(session, rows)  # one query for the batch, not one per case
    policies: dict[tuple[str, int], tuple[Policy, BusinessCalendar]] = {}
    plan = SweepPlan(list(rows), seen={case.id: (case.version, case.last_seq) for case in rows})
    for case in rows:
        key = (case.policy_id, case.policy_version)
        if key not in policies:  # one registry look-up per policy version per batch, not per case
            policies[key] = policy_registry.get_policy(session, *key)
        read = case.read_state() if isinstance(case, CaseRow) else state_from_dict(case.state)
        step = engine.advance(*policies[key], read, now)
        if step.events:
            prev = hashes.get(case.id) if case.last_seq > 0 else GENESIS_HASH
            prev = prev or last_hash(session, case)
            plan.planned.append(PlannedChange(case, step.state, step.events, prev, read))
        elif case.next_deadline_at != step.state.next_deadline_at:
            # Nothing due after all (a deadline moved): keep the index honest so it is not claimed again.
            plan.moved.append((case, step.state.next_deadline_at))
    if prepare:
        plan.prepared = prepare_changes(plan.planned, now, session.get_bind().dialect)
    return plan


def write_plan(session: Session, plan: SweepPlan[C], now: datetime) -> list[Change[C]]:
    """Write a plan (see :func:`apply_due_timers` for what, and the errors); returns the changes."""
    # Before anything shared is written: a child's breach may escalate its parent (below).
    lock_parents(session, [p.case.id for p in plan.planned if breached(p.events)])
    move_deadlines(session, plan.moved)
    prepared = plan.prepared if plan.prepared is not None else prepare_changes(plan.planned, now)
    changes = write_prepared(session, prepared)
    escalate_parents(session, changes, now)  # a child's breach may escalate its parent
    return changes


def still_as_read(session: Session, plan: SweepPlan[C]) -> SweepPlan[C]:
    """The plan without the cases changed since they were read (another transaction moved their
    version or appended to their history): in the write transaction, before :func:`write_plan`,
    for a plan made from rows read without a lock (flows.sweep_lanes). Those cases are left as
    they are now; if still due, the next sweep advances them from what they hold then."""
    if not plan.read:
        return plan
    query = sa.select(CASES.c.id, CASES.c.version, CASES.c.last_seq).where(
        CASES.c.id.in_([case.id for case in plan.read])
    )
    stored = {row[0]: (row[1], row[2]) for row in session.connection().execute(query)}
    kept = [case for case in plan.read if stored.get(case.id) == plan.seen[case.id]]
    if len(kept) == len(plan.read):
        return plan
    ids = {case.id for case in kept}
    return SweepPlan(
        kept,
        [p for p in plan.planned if p.case.id in ids],
        [(case, deadline) for case, deadline in plan.moved if case.id in ids],
        {i: seen for i, seen in plan.seen.items() if i in ids},
        plan.prepared.only(ids) if plan.prepared is not None else None,
    )


def read_due_range(session: Session, now: datetime, after: DueKey | None, through: DueKey) -> list[CaseRow]:
    """The due cases whose (``next_deadline_at``, id) lies after ``after`` (None: from the first)
    and up to ``through``, earliest first, read without a lock: a range :func:`due_keys` gave."""
    key = sa.tuple_(CASES.c.next_deadline_at, CASES.c.id)
    query = sa.select(*COLUMNS).where(CASES.c.next_deadline_at <= now, key <= through)
    if after is not None:
        query = query.where(key > after)
    query = query.order_by(CASES.c.next_deadline_at, CASES.c.id)
    return [CaseRow(*row) for row in session.connection().execute(query).fetchall()]


def due_keys(session: Session, now: datetime, after: DueKey | None, limit: int) -> list[DueKey]:
    """The (``next_deadline_at``, id) of up to ``limit`` due cases after ``after``, earliest first:
    consecutive ranges of these never share a case, so batches made of them can be planned side by
    side (flows.sweep_lanes)."""
    key = sa.tuple_(CASES.c.next_deadline_at, CASES.c.id)
    query = sa.select(CASES.c.next_deadline_at, CASES.c.id).where(CASES.c.next_deadline_at <= now)
    if after is not None:
        query = query.where(key > after)
    query = query.order_by(CASES.c.next_deadline_at, CASES.c.id).limit(limit)
    return [(row[0], row[1]) for row in session.connection().execute(query).fetchall()]


def _locked_rows(session: Session, cases: Sequence[Case | CaseRow | str]) -> list[Case | CaseRow]:
    """``cases`` as rows, in order; ids are read and locked with one query (CaseNotFound names the
    first id that does not exist)."""
    ids = [item for item in cases if isinstance(item, str)]
    if not ids:
        return [item for item in cases if not isinstance(item, str)]
    query = select(Case).where(col(Case.id).in_(set(ids))).order_by(col(Case.id)).with_for_update()
    found = {c.id: c for c in session.exec(query.execution_options(populate_existing=True))}
    missing = next((i for i in ids if i not in found), None)
    if missing is not None:
        raise CaseNotFound(missing)
    return [found[item] if isinstance(item, str) else item for item in cases]


def _distinct(rows: list[Case | CaseRow]) -> list[Case | CaseRow]:
    """Each case once, at its first place."""
    unique: dict[str, Case | CaseRow] = {}
    for case in rows:
        unique.setdefault(case.id, case)
    return list(unique.values())
