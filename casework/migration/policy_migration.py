"""Policy migration of open cases: ``lifeline policies migrate`` and POST /v1/policies/{id}/migrations.

The pure part (what ``rebase`` and ``recompute`` do to a case) is sla_engine.migration; this is the
service around it. Cases are selected with the case listing's filters (plus their policy; only
open cases), then each is migrated in its own transaction with its own version check by the bulk
actions' runner (casework.bulk.runner.run_each), so one stale case never undoes the others.

Each case's result: ``migrated`` (``version`` is its new version), ``unchanged`` (already on the
target version, or mode ``keep``), ``stale`` (it moved past the version selected), ``forbidden``
(not open, or pinned to another policy), ``invalid`` (the new version refuses its recorded
history, for ``recompute``), ``not_found``. Every answer carries ``from``, ``to`` and the deadlines
``before`` and ``after``. A dry run computes the same answer in read-only transactions and writes
nothing.

A real migration writes, in the case's transaction: the timers that fell due under the old version
(as any change first does), the ``policy_migrated`` event with what recompute adds before it and
the timers now due after it, under the new version, which the case pins from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, update
from sqlmodel import Session, col, select

from casework.audit.actions import recorded_actions
from casework.bulk.runner import CaseResult, Target, run_each, select_targets, summary
from casework.cases.lifecycle import get_case_for_update
from casework.errors import (
    CaseNotFound,
    InvalidAction,
    MigrationTargetInvalid,
    PolicyNotRegistered,
    StaleVersion,
    UnreadableAction,
)
from casework.history.case_changes import set_committed, write_case_change
from casework.history.hashchain import normalize_json
from casework.links.child_breach import escalate_parents
from casework.queries.case_queries import CaseFilters
from casework.registry import policy_registry
from models.db import session_scope
from models.tables import Case, CaseEvent, PolicyVersion
from sla_engine.kinds import ACTIVE_STATUSES, EventKind, Status
from sla_engine.migration import Migration, MigrationMode, Opening, Versioned, deadlines, migrate
from sla_engine.state import state_from_dict

RESULTS = ("migrated", "unchanged", "stale", "forbidden", "invalid", "not_found")


@dataclass(frozen=True)
class MigrationRequest:
    """What to do: move the open cases of ``policy_id`` to version ``to`` by ``mode``."""

    policy_id: str
    to: int
    mode: MigrationMode
    actor: str
    dry_run: bool = False


def parse_target(policy_id: str, to: int | str) -> int:
    """``to`` as a version number: ``3``, ``"3"`` or ``"POLICY:3"``. MigrationTargetInvalid (422)
    for a version of another policy or text that names no version."""
    if isinstance(to, int):
        if to < 1:
            raise MigrationTargetInvalid(f"{to} is not a version number: versions count from 1")
        return to
    owner, _, number = to.rpartition(":")
    if owner and owner != policy_id:
        raise MigrationTargetInvalid(f"{to!r} is a version of policy {owner!r}, not of {policy_id!r}")
    if not number.isdigit() or int(number) < 1:
        raise MigrationTargetInvalid(f"{to!r} is not a version number (e.g. 3, or {policy_id}:3)")
    return int(number)


def target_version(session: Session, policy_id: str, version: int) -> Versioned:
    """The version to migrate to; PolicyNotRegistered (404) for an unknown policy or version."""
    policy_registry.latest_registered(session, policy_id)  # names the policy when it is unknown
    exists = select(PolicyVersion.id).where(
        PolicyVersion.policy_id == policy_id, PolicyVersion.version == version
    )
    if session.exec(exists).first() is None:
        raise PolicyNotRegistered(f"policy {policy_id!r} version {version}")
    return Versioned(version, *policy_registry.get_policy(session, policy_id, version))


def open_filters(policy_id: str, filters: CaseFilters) -> CaseFilters:
    """``filters`` narrowed to the open cases of ``policy_id`` (a status filter keeps only open ones)."""
    active = [s for s in Status if s in ACTIVE_STATUSES]
    status = tuple(s for s in filters.status if s in ACTIVE_STATUSES) if filters.status else tuple(active)
    if filters.status and not status:
        raise InvalidAction("only open cases migrate: the status filter names none", "status")
    return replace(filters, policy_id=policy_id, status=status)


def select_cases(connection: Connection, policy_id: str, filters: CaseFilters) -> list[Target]:
    """The open cases of ``policy_id`` that ``filters`` selects, with their versions (listing order)."""
    return select_targets(connection, open_filters(policy_id, filters))


def run_migration(
    engine: Engine,
    request: MigrationRequest,
    targets: Sequence[Target],
    clock: Callable[[], datetime],
    on_result: Callable[[CaseResult], None] | None = None,
) -> dict[str, Any]:
    """Migrate every target in its own transaction (read-only for a dry run) and answer the list:
    ``policy_id``, ``to``, ``mode``, ``dry_run``, ``total``, ``counts`` and every case's result.
    Raises PolicyNotRegistered before touching any case when the target version is unknown."""
    with session_scope(engine, write=False) as session:
        new = target_version(session, request.policy_id, request.to)
    work = _case_work(request, new)
    results = run_each(engine, targets, work, clock, on_result, write=not request.dry_run)
    answer = summary("migrate", results, RESULTS)
    del answer["action"]
    return {
        "policy_id": request.policy_id,
        "to": request.to,
        "mode": str(request.mode),
        "dry_run": request.dry_run,
        **answer,
    }


def _case_work(
    request: MigrationRequest, new: Versioned
) -> Callable[[Session, Target, datetime], CaseResult]:
    def work(session: Session, target: Target, now: datetime) -> CaseResult:
        case = _read(session, target.case_id, request.dry_run)
        if target.version is not None and case.version != target.version:
            raise StaleVersion(case.id, target.version, case.version)
        refusal = _refusal(case, request.policy_id)
        if refusal is not None:
            return CaseResult(case.id, "forbidden", case.version, refusal)
        state = state_from_dict(case.state)
        if request.mode is MigrationMode.KEEP or case.policy_version == new.version:
            same = normalize_json(deadlines(state))
            detail = "mode keep" if request.mode is MigrationMode.KEEP else "already on that version"
            extra = {"from": case.policy_version, "to": case.policy_version, "before": same, "after": same}
            return CaseResult(case.id, "unchanged", case.version, detail, extra)
        source = case.policy_version
        migration = _migrate(session, case, new, request, now)
        if not request.dry_run:
            _write(session, case, new.version, migration, now)
        extra = {
            "from": source,
            "to": new.version,
            "before": normalize_json(migration.before),
            "after": normalize_json(migration.after),
        }
        return CaseResult(case.id, "migrated", case.version, None, extra)

    return work


def _read(session: Session, case_id: str, dry_run: bool) -> Case:
    if not dry_run:
        return get_case_for_update(session, case_id)
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def _refusal(case: Case, policy_id: str) -> str | None:
    if case.policy_id != policy_id:
        return f"case {case.id} is under policy {case.policy_id!r}, not {policy_id!r}"
    if case.status not in ACTIVE_STATUSES:
        return f"case {case.id} is {case.status}: only open cases migrate"
    return None


def _migrate(
    session: Session, case: Case, new: Versioned, request: MigrationRequest, now: datetime
) -> Migration:
    old = Versioned(
        case.policy_version, *policy_registry.get_policy(session, case.policy_id, case.policy_version)
    )
    opening, known = None, frozenset[str]()
    try:
        if request.mode is MigrationMode.RECOMPUTE:
            query = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.seq))
            events = list(session.exec(query))
            opening, known = _opening(events), frozenset(e.dedupe_key for e in events if e.dedupe_key)
        return migrate(
            old, new, state_from_dict(case.state), request.mode, now, request.actor, opening, known
        )
    except (UnreadableAction, ValueError, KeyError, TypeError) as err:
        raise InvalidAction(f"case {case.id} cannot be recomputed: {err}") from None


def _opening(events: Sequence[CaseEvent]) -> Opening:
    opened = events[0] if events else None
    if opened is None or opened.kind is not EventKind.OPENED:
        raise ValueError("its history does not start with 'opened'")
    status = Status(opened.data.get("status", Status.OPEN))
    actions = [a.action for a in recorded_actions(events)]
    return Opening(opened.data.get("attributes") or {}, opened.at, opened.actor, status, actions)


def _write(session: Session, case: Case, version: int, migration: Migration, now: datetime) -> None:
    """The old version's due timers, then the case on ``version`` with the migration's events (whose
    ``policy_migrated`` regroups the case's report rows and roll-ups under ``version``)."""
    if migration.timed:
        write_case_change(session, case, migration.advanced, migration.timed, now, case.version)
    session.connection().execute(update(Case).where(col(Case.id) == case.id).values(policy_version=version))
    set_committed(case, {"policy_version": version})
    change = write_case_change(session, case, migration.state, migration.events, now, case.version)
    escalate_parents(session, [change], now)  # a breach it records may escalate a parent
