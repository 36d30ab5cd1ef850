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
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.sql.selectable import Select
from sqlmodel import Session, col, select

from casework.errors import CaseNotFound
from casework.history.batch_writes import PlannedChange, move_deadlines, write_changes
from casework.history.case_changes import Change, last_hash, last_hashes
from casework.history.case_rows import COLUMNS, CaseRecord, CaseRow
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
    hashes = last_hashes(session, rows)  # one query for the batch, not one per case
    policies: dict[tuple[str, int], tuple[Policy, BusinessCalendar]] = {}
    planned: list[PlannedChange[Case | CaseRow]] = []
    moved: list[tuple[CaseRecord, datetime | None]] = []
    for case in rows:
        key = (case.policy_id, case.policy_version)
        if key not in policies:  # one registry look-up per policy version per batch, not per case
            policies[key] = policy_registry.get_policy(session, *key)
        read = case.read_state() if isinstance(case, CaseRow) else state_from_dict(case.state)
        step = engine.advance(*policies[key], read, now)
        if step.events:
            prev = hashes.get(case.id) if case.last_seq > 0 else GENESIS_HASH
            prev = prev or last_hash(session, case)
            planned.append(PlannedChange(case, step.state, step.events, prev, read))
        elif case.next_deadline_at != step.state.next_deadline_at:
            # Nothing due after all (a deadline moved): keep the index honest so it is not claimed again.
            moved.append((case, step.state.next_deadline_at))
    # Before anything shared is written: a child's breach may escalate its parent (below).
    lock_parents(session, [p.case.id for p in planned if breached(p.events)])
    move_deadlines(session, moved)
    changes = write_changes(session, planned, now)
    escalate_parents(session, changes, now)  # a child's breach may escalate its parent
    return changes


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
