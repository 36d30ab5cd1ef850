"""Links between cases: open a child under a parent, link two cases as related or as a duplicate,
unlink them. One link per pair of cases (``case_links``); every link and unlink is also an event on
both cases (``linked`` / ``unlinked``, data ``{"kind": ..., "case_id": <the other case>}``, the kind as
seen from that case: ``parent_of`` / ``child_of``, ``related``, ``duplicate_of`` / ``duplicated_by``),
so each history tells the whole story on its own.

Services flush and never commit (the route or command owns the transaction). Both cases are locked
in id order (no deadlock between two agents linking the same pair from either end).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, or_, select

from casework.cases import lifecycle
from casework.errors import CaseNotFound, InvalidAction, LinkConflict, LinkNotFound
from casework.history.case_changes import CaseChange, write_case_change
from casework.links.listing import SIDES
from models.kinds import LinkKind
from models.tables import Case, CaseLink
from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind, Status

#: The kinds an agent may create with POST /links (children come from POST /children).
AGENT_KINDS = frozenset({LinkKind.RELATED, LinkKind.DUPLICATE_OF})


def lock_pair(session: Session, case_id: str, other_case_id: str) -> tuple[Case, Case]:
    """Both cases, locked in id order; InvalidAction when they are the same case."""
    if case_id == other_case_id:
        raise InvalidAction("a case cannot be linked to itself", "case_id")
    locked = {}
    for wanted in sorted((case_id, other_case_id)):
        try:
            locked[wanted] = lifecycle.get_case_for_update(session, wanted)
        except CaseNotFound:
            if wanted == case_id:
                raise
            raise InvalidAction(f"no case with id {wanted!r} to link", "case_id") from None
    return locked[case_id], locked[other_case_id]


def find_link(session: Session, case_id: str, other_case_id: str) -> CaseLink | None:
    """The link between the two cases, whichever way round it was stored."""
    query = select(CaseLink).where(
        or_(
            (col(CaseLink.case_id) == case_id) & (col(CaseLink.other_case_id) == other_case_id),
            (col(CaseLink.case_id) == other_case_id) & (col(CaseLink.other_case_id) == case_id),
        )
    )
    return session.exec(query).first()


def link_cases(
    session: Session, case_id: str, kind: LinkKind, other_case_id: str, actor: str, now: datetime
) -> tuple[CaseChange, CaseChange]:
    """Store ``case_id --kind--> other_case_id`` and write ``linked`` on both cases.
    LinkConflict if the two are linked already (unlink first to change the kind)."""
    case, other = lock_pair(session, case_id, other_case_id)
    existing = find_link(session, case_id, other_case_id)
    if existing is not None:
        raise LinkConflict(
            f"cases {case_id} and {other_case_id} are already linked ({existing.kind}); unlink them first",
            case_id,
            other_case_id,
        )
    session.add(
        CaseLink(case_id=case_id, other_case_id=other_case_id, kind=kind, created_at=now, created_by=actor)
    )
    session.flush()
    return _record(session, EventKind.LINKED, case, kind, other, actor, now)


def unlink_cases(
    session: Session, case_id: str, other_case_id: str, actor: str, now: datetime
) -> tuple[CaseChange, CaseChange]:
    """Remove the link between the two cases (any kind) and write ``unlinked`` on both.
    A merge's link stays (the merged case's history points to its survivor): LinkConflict."""
    if session.get(Case, case_id) is None:
        raise CaseNotFound(case_id)
    if find_link(session, case_id, other_case_id) is None:
        raise LinkNotFound(case_id, other_case_id)
    case, other = lock_pair(session, case_id, other_case_id)
    link = find_link(session, case_id, other_case_id)
    if link is None:  # removed by a concurrent unlink between the look-up and the locks
        raise LinkNotFound(case_id, other_case_id)
    if link.kind is LinkKind.MERGED_INTO:
        raise LinkConflict("a merge cannot be undone by unlinking", case_id, other_case_id)
    session.delete(link)
    session.flush()
    source, target = (case, other) if link.case_id == case.id else (other, case)
    changes = _record(session, EventKind.UNLINKED, source, link.kind, target, actor, now)
    return changes if source is case else (changes[1], changes[0])


def _record(
    session: Session, event: EventKind, case: Case, kind: LinkKind, other: Case, actor: str, now: datetime
) -> tuple[CaseChange, CaseChange]:
    """``event`` on both ends of a ``case --kind--> other`` link, each naming the other case."""
    mine, theirs = SIDES[kind]
    first = write_case_change(
        session, case, None, [EngineEvent(event, now, actor, {"kind": mine, "case_id": other.id})], now
    )
    second = write_case_change(
        session, other, None, [EngineEvent(event, now, actor, {"kind": theirs, "case_id": case.id})], now
    )
    return first, second


def open_child(
    session: Session,
    parent_id: str,
    *,
    attributes: Mapping[str, Any],
    actor: str,
    now: datetime,
    incident_type: str | None = None,
    policy_id: str | None = None,
    opened_at: datetime | None = None,
) -> tuple[CaseChange, CaseChange]:
    """Open a child case of ``parent_id`` under its own incident type and policy; the parent's
    ``attributes.creator`` fields are inherited unless ``attributes.creator`` gives them. Returns
    (the child's change, the parent's). InvalidAction when the parent is no longer being worked."""
    parent = lifecycle.get_case_for_update(session, parent_id)
    if parent.status in (Status.CLOSED, Status.MERGED):
        raise LinkConflict(f"case {parent_id} is {parent.status}: it takes no new children", parent_id, "")
    child_attributes = dict(attributes)
    inherited = parent.attributes.get("creator")
    if isinstance(inherited, Mapping):
        given = child_attributes.get("creator")
        child_attributes["creator"] = {**inherited, **(given if isinstance(given, Mapping) else {})}
    child = lifecycle.open_case(
        session,
        attributes=child_attributes,
        actor=actor,
        now=now,
        incident_type=incident_type,
        policy_id=policy_id,
        opened_at=opened_at,
    )
    session.add(
        CaseLink(
            case_id=parent.id,
            other_case_id=child.case.id,
            kind=LinkKind.PARENT_OF,
            created_at=now,
            created_by=actor,
        )
    )
    session.flush()
    parent_change, child_linked = _record(
        session, EventKind.LINKED, parent, LinkKind.PARENT_OF, child.case, actor, now
    )
    child.events.extend(child_linked.events)
    return child, parent_change
