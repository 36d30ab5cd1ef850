"""A policy's ``on_child_breach``: when a child case misses a deadline, its parent's policy may
escalate the parent (``"escalate"``: to its next stage, like an agent's manual escalation, by actor
``CHILD_BREACH_ACTOR``, its reason naming the child and what it missed).

Called in the transaction that wrote the child's breach (an agent's action, or the worker's sweep
after its batch is written), so the breach and the parent's escalation commit together. A parent
escalates once per call however many of its children breached; a parent already at its last stage,
or no longer being worked, is left as it is. The escalation is an ordinary ``escalate`` action with
its request recorded, so the auditor's replay of the parent reproduces it.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from contextlib import suppress
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from casework.errors import ForbiddenTransition, InvalidAction
from casework.history.case_changes import C, Change
from casework.history.id_sets import among
from casework.registry import policy_registry
from models.kinds import LinkKind
from models.tables import Case, CaseLink
from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind

#: The actor of a parent's escalation caused by a child's breach.
CHILD_BREACH_ACTOR = "system:child-breach"


def breached(events: Iterable[EngineEvent]) -> bool:
    """Whether ``events`` hold a breach: a change that may escalate its case's parents."""
    return any(event.kind is EventKind.BREACHED for event in events)


def lock_parents(session: Session, children: Collection[str]) -> None:
    """Lock the parents of ``children`` (those whose breach may escalate them), in id order, before
    the caller writes anything another transaction may need.

    Why: a parent is escalated after the breach's write, which upserts the compliance roll-ups
    (casework.history.rollups), rows that every case of a day and group shares. Waiting for the
    parent while holding those rows deadlocked against a transaction that held the parent and then
    needed the same rows: an agent acting on the parent, or another worker's batch that had
    claimed it. PostgreSQL broke the cycle after a second by aborting one of them (the agent's
    request refused, or a batch redone). Locked first, the wait holds only the caller's own cases,
    so the other transaction finishes and the caller goes on. SQLite has one writer: nothing to do."""
    connection = session.connection()
    if not children or connection.dialect.name != "postgresql":
        return
    parents = sa.select(col(CaseLink.case_id)).where(_parent_links(children, "postgresql"))
    connection.execute(
        sa.select(col(Case.id)).where(col(Case.id).in_(parents)).order_by(col(Case.id)).with_for_update()
    ).all()


def _parent_links(children: Collection[str], dialect: str) -> ColumnElement[bool]:
    """The ``case_links`` rows that are parent links of ``children``: one text whatever their
    number (id_sets.among), not the ORM's per-count IN (3 % of the sweep's CPU on PostgreSQL)."""
    return sa.and_(
        among(col(CaseLink.other_case_id), children, dialect), col(CaseLink.kind) == LinkKind.PARENT_OF
    )


def escalate_parents(session: Session, changes: Sequence[Change[C]], now: datetime) -> None:
    """Escalate the parents whose policy says so, for every change that wrote a breach."""
    missed = {c.case.id: c.breaches[0] for c in changes if c.breaches}
    if not missed:
        return
    links = _parent_links_of(session.connection(), list(missed))
    reasons: dict[str, str] = {}
    for parent_id, child_id in links:
        breach = missed[child_id]
        reasons.setdefault(parent_id, f"child case {child_id} breached {breach.target}")
    for parent_id, reason in reasons.items():
        _escalate(session, parent_id, reason, now)


def _parent_links_of(connection: sa.Connection, children: list[str]) -> list[tuple[str, str]]:
    """(parent id, child id) of every parent link of ``children``, by parent id. On SQLite the
    driver's text, built once per number of children: SQLAlchemy building the statement and
    expanding its ``IN`` for each batch of a sweep was ~1 % of the sweep's CPU for a query that
    finds no link in most batches (bench/README.md, "2026-12-04 (Friday)")."""
    if connection.dialect.name == "sqlite":
        text = _sqlite_parent_links(len(children))
        found = connection.exec_driver_sql(text, (*children, str(LinkKind.PARENT_OF)))
        return [(parent, child) for parent, child in found]
    query = (
        sa.select(col(CaseLink.case_id), col(CaseLink.other_case_id))
        .where(_parent_links(children, connection.dialect.name))
        .order_by(col(CaseLink.case_id))
    )
    return [(parent, child) for parent, child in connection.execute(query)]


@functools.lru_cache(maxsize=512)
def _sqlite_parent_links(count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        f"SELECT case_id, other_case_id FROM {CaseLink.__tablename__} "
        f"WHERE other_case_id IN ({marks}) AND kind = ? ORDER BY case_id"
    )


def _escalate(session: Session, parent_id: str, reason: str, now: datetime) -> None:
    from casework.cases.lifecycle import apply_action  # lifecycle calls this module

    parent = session.get(Case, parent_id)
    if parent is None:
        return
    policy, _calendar = policy_registry.get_policy(session, parent.policy_id, parent.policy_version)
    if policy.on_child_breach != "escalate":
        return
    # At its last stage, or no longer being worked: nothing to escalate (refused before anything
    # is written: the engine decides first).
    with suppress(InvalidAction, ForbiddenTransition):
        apply_action(session, parent_id, "escalate", {"reason": reason}, CHILD_BREACH_ACTOR, now)
