"""Case lifecycle services: open a case, apply an agent's action, read a case for update.

Each function takes the caller's Session, flushes, and never commits: the API route (or the flow)
owns the transaction, so a crash anywhere leaves the database as it was. Use
``models.db.session_scope(engine)`` (a write scope: BEGIN IMMEDIATE on SQLite).

Errors: CaseNotFound, StaleVersion (the case moved past ``expected_version``), PolicyNotRegistered,
AmbiguousPolicy, and the engine's ForbiddenTransition / InvalidAction, all in casework.errors.
After any of them the caller must roll the transaction back.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, select

from casework.cases import limits
from casework.cases.assignees import check_arguments
from casework.cases.ids import new_case_id
from casework.errors import CaseNotFound, InvalidAction, StaleVersion
from casework.history.case_changes import CaseChange, copy_state, write_case_change, write_events
from casework.history.event_rows import chain_events
from casework.history.hashchain import GENESIS_HASH
from casework.links import hooks
from casework.links.child_breach import breached, lock_parents
from casework.registry import policy_registry
from casework.registry.policy_registry import PinnedVersion
from casework.settings import get_settings
from models.tables import Case
from policies.model import Policy
from sla_engine import cases as engine
from sla_engine.events import AgentAction
from sla_engine.kinds import ActionName, Status
from sla_engine.state import CaseState, state_from_dict


def _require_aware(now: datetime, name: str = "now") -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidAction(f"{name} must be a timezone-aware datetime", name)


def open_case(
    session: Session,
    *,
    attributes: Mapping[str, Any],
    actor: str,
    now: datetime,
    incident_type: str | None = None,
    policy_id: str | None = None,
    opened_at: datetime | None = None,
    max_backdate: timedelta | None = None,
    status: Status = Status.OPEN,
) -> CaseChange:
    """Open a case under the latest registered version of its policy (found by ``policy_id``, or by
    ``incident_type`` when one policy handles it) and write its ``opened`` event and the events of
    stage 0's on_enter actions. ``opened_at`` (default ``now``) may be in the past: timers already
    due by ``now`` are applied at once, but it may not be older than ``max_backdate`` (default
    ``LIFELINE_MAX_BACKDATE``). Attributes are checked against casework.cases.limits (InputRejected).
    ``status`` may be ``waiting_on_creator`` (opened waiting).
    Returns the new case (version 1) and what was written."""
    _require_aware(now)
    opened_at = opened_at or now
    _require_aware(opened_at, "opened_at")
    limits.check_opened_at(
        opened_at, now, get_settings().max_backdate if max_backdate is None else max_backdate
    )
    limits.check_attributes(attributes)
    pinned = policy_registry.pin_for_new_case(session, policy_id=policy_id, incident_type=incident_type)
    policy, calendar = policy_registry.get_policy(
        session, pinned.policy_id, pinned.version, sha256=pinned.sha256
    )
    step = engine.open_case(policy, calendar, attributes, opened_at, actor, status)
    events = list(step.events)
    state = step.state
    if opened_at < now:
        advanced = engine.advance(policy, calendar, state, now)
        state, events = advanced.state, events + list(advanced.events)
    case = new_case(policy, pinned, state, opened_at)
    rows = chain_events(case, events, now, GENESIS_HASH)
    case.last_seq = len(rows)
    _insert_new(session, case)  # the case row, with its final state and last_seq, before its events
    change = CaseChange(case, policy_sha256=pinned.sha256)
    write_events(session, change, rows, now)
    return change


def new_case(policy: Policy, pinned: PinnedVersion, state: CaseState, opened_at: datetime) -> Case:
    """The row of a case opened at ``opened_at`` under ``pinned`` with ``state`` (version 1, no
    events yet), not added to any session."""
    case = Case(
        id=new_case_id(opened_at),
        incident_type=policy.incident_type,
        policy_id=pinned.policy_id,
        policy_version=pinned.version,
        opened_at=opened_at,
        version=1,
        last_seq=0,
        # Filled by copy_state; required columns need a value before it runs.
        status=state.status,
        stage=state.stage.id,
        queue=state.queue,
        priority=state.priority,
        attributes={},
        updated_at=state.updated_at,
        state={},
    )
    copy_state(case, state)
    return case


_CASE_TABLE: Table = Case.__table__  # type: ignore[attr-defined]
_CASE_COLUMNS = tuple(column.key for column in _CASE_TABLE.columns)
_INSERT_CASE = insert(_CASE_TABLE)


def _insert_new(session: Session, case: Case) -> None:
    """Write the new ``case``'s row with one Core INSERT of every column (what the ORM's flush
    would write), then attach it to the session as a loaded row: later changes to it flush as
    UPDATEs, as before. The ORM's flush of one new object (its unit of work, mapper bookkeeping)
    was ~13% of POST /v1/cases under the profiler. Pending changes are flushed first, in order."""
    session.flush()
    session.connection().execute(_INSERT_CASE, {name: getattr(case, name) for name in _CASE_COLUMNS})
    make_transient_to_detached(case)
    session.add(case)


def get_case_for_update(session: Session, case_id: str) -> Case:
    """The case's current row, locked until the transaction ends on PostgreSQL (SELECT ... FOR
    UPDATE); on SQLite the write scope's BEGIN IMMEDIATE already serialises writers."""
    query = select(Case).where(Case.id == case_id).with_for_update()
    case = session.exec(query.execution_options(populate_existing=True)).first()
    if case is None:
        raise CaseNotFound(case_id)
    return case


def apply_action(
    session: Session,
    case_id: str,
    action_name: str,
    args: Mapping[str, Any],
    actor: str,
    now: datetime,
    expected_version: int | AbstractSet[int] | None = None,
) -> CaseChange:
    """Apply an agent's action at ``now``: timers that fell due before it are written first (with
    their dedupe keys), then the action's own events; ``version`` goes up by one.

    ``expected_version`` (the API's If-Match) must equal the case's version (or be one of a set of
    versions; an empty set never matches), else StaleVersion and nothing is written.
    ForbiddenTransition if the state machine refuses the action in the case's status; InvalidAction
    for an unknown action name or arguments that cannot apply; InputRejected for attributes beyond
    casework.cases.limits; UnknownAgent / UnknownQueue for an ``assign`` to a name the deployment
    does not know (casework.cases.assignees).

    Requests without ``expected_version`` serialise: one that read ``now`` before a concurrent one
    committed a later change applies at that change's instant (never "older than the case's last
    change", which would blame the caller for a race it could not see)."""
    _require_aware(now)
    try:
        name = ActionName(action_name)
    except ValueError:
        known = ", ".join(a.value for a in ActionName)
        raise InvalidAction(f"unknown action {action_name!r}; known actions: {known}", "action") from None
    if name is ActionName.UPDATE_ATTRIBUTES and isinstance(args.get("attributes"), Mapping):
        limits.check_attributes(args["attributes"])
    case = get_case_for_update(session, case_id)
    if isinstance(expected_version, AbstractSet):
        if case.version not in expected_version:
            raise StaleVersion(case.id, min(expected_version, default=None), case.version)
        expected_version = case.version
    elif expected_version is not None and case.version != expected_version:
        raise StaleVersion(case.id, expected_version, case.version)
    args = check_arguments(session, name, args, actor)
    hooks.before_action(session, case, name, args)
    policy, calendar = policy_registry.get_policy(session, case.policy_id, case.policy_version)
    state = state_from_dict(case.state)
    at = max(now, state.updated_at)
    step = engine.apply_action(policy, calendar, state, AgentAction(name, at, actor, dict(args)))
    if name is ActionName.UPDATE_ATTRIBUTES:
        limits.check_attributes(step.state.attributes)  # the merged whole, e.g. its size
    if breached(step.events):
        lock_parents(session, [case.id])  # before the roll-ups are written (child_breach.lock_parents)
    change = write_case_change(session, case, step.state, step.events, now, expected_version)
    hooks.after_action(session, change, name, args, actor, now)
    return change
