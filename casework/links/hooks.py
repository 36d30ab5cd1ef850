"""What links add to an agent's action, run by ``lifecycle.apply_action`` around the engine:

- before: a parent case cannot be resolved (nor merged away) while a child is open, unless the
  agent forces it with a reason (OpenChildren names them); ``merge_into`` needs a surviving case
  that exists, is another case and is still open to work (not closed or merged);
- after any action whose write recorded a breach: the parent's ``on_child_breach``;
- after ``merge_into``: the pair's link becomes ``merged_into`` and both cases record ``merged``
  (the duplicate ``{"into": survivor}``, the survivor ``{"from": duplicate}``), so the duplicate's
  history points to its survivor.

A refusal raises before anything is written; the caller rolls the transaction back on any error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from casework.errors import CaseNotFound, InvalidAction, LinkConflict, OpenChildren
from casework.history.case_changes import CaseChange, write_case_change
from casework.links.child_breach import escalate_parents
from casework.links.listing import open_children
from models.kinds import LinkKind
from models.tables import Case, CaseLink
from sla_engine.events import EngineEvent
from sla_engine.kinds import ActionName, EventKind, Status

#: Actions that end a case while its children may still be open.
ENDING = frozenset({ActionName.RESOLVE, ActionName.MERGE_INTO})


def before_action(session: Session, case: Case, name: ActionName, args: Mapping[str, Any]) -> None:
    """Refuse ``name`` on ``case`` (locked) when links forbid it; see the module docstring."""
    if name is ActionName.MERGE_INTO:
        _check_survivor(session, case, args.get("case_id"))
    if name not in ENDING:
        return
    if args.get("force"):
        if not str(args.get("reason") or "").strip():
            raise InvalidAction("force needs a 'reason' (recorded on the event)", "reason")
        return
    children = open_children(session, case.id)
    if children:
        raise OpenChildren(case.id, children)


def _check_survivor(session: Session, case: Case, survivor_id: Any) -> None:
    if not isinstance(survivor_id, str) or not survivor_id:
        raise InvalidAction("merge_into needs the surviving case's 'case_id'", "case_id")
    if survivor_id == case.id:
        raise InvalidAction("a case cannot be merged into itself", "case_id")
    survivor = session.get(Case, survivor_id)
    if survivor is None:
        raise InvalidAction(f"no case with id {survivor_id!r} to merge into", "case_id")
    if survivor.status in (Status.CLOSED, Status.MERGED):
        raise LinkConflict(
            f"case {survivor_id} is {survivor.status}: merge into a case still being worked",
            case.id,
            survivor_id,
        )


def after_action(
    session: Session, change: CaseChange, name: ActionName, args: Mapping[str, Any], actor: str, now: datetime
) -> None:
    """Record what ``name`` (already written: ``change``) means for the linked cases: a merge's
    link and events, and the parent's escalation when the action's write recorded a breach
    (casework.links.child_breach)."""
    if name is ActionName.MERGE_INTO:
        _record_merge(session, change.case, str(args["case_id"]), actor, now)
    if change.breaches:
        escalate_parents(session, [change], now)


def _record_merge(session: Session, duplicate: Case, survivor_id: str, actor: str, now: datetime) -> None:
    from casework.cases.lifecycle import get_case_for_update  # lifecycle calls this module

    try:
        survivor = get_case_for_update(session, survivor_id)
    except CaseNotFound:  # checked before; deleted since is impossible (cases are never deleted)
        raise InvalidAction(f"no case with id {survivor_id!r} to merge into", "case_id") from None
    for link in session.exec(
        select(CaseLink).where(
            ((CaseLink.case_id == duplicate.id) & (CaseLink.other_case_id == survivor.id))
            | ((CaseLink.case_id == survivor.id) & (CaseLink.other_case_id == duplicate.id))
        )
    ):
        session.delete(link)
    session.flush()
    session.add(
        CaseLink(
            case_id=duplicate.id,
            other_case_id=survivor.id,
            kind=LinkKind.MERGED_INTO,
            created_at=now,
            created_by=actor,
        )
    )
    session.flush()
    write_case_change(
        session, duplicate, None, [EngineEvent(EventKind.MERGED, now, actor, {"into": survivor.id})], now
    )
    write_case_change(
        session, survivor, None, [EngineEvent(EventKind.MERGED, now, actor, {"from": duplicate.id})], now
    )
