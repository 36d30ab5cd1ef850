"""A case's linked cases as its view lists them: parent, children, related cases, duplicates and
merges, each with its status, priority and next deadline (read in one query)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, and_, bindparam, or_, select
from sqlmodel import Session, col
from typing_extensions import TypedDict

from models.kinds import LinkKind
from models.tables import Case, CaseLink
from sla_engine.kinds import ACTIVE_STATUSES, Status

#: How a stored link reads from each end: (from case_id's side, from other_case_id's side).
SIDES: Mapping[LinkKind, tuple[str, str]] = {
    LinkKind.PARENT_OF: ("parent_of", "child_of"),
    LinkKind.RELATED: ("related", "related"),
    LinkKind.DUPLICATE_OF: ("duplicate_of", "duplicated_by"),
    LinkKind.MERGED_INTO: ("merged_into", "merged_from"),
}


#: The view's groups, by the kind as read from the case's side; single-valued ones hold one case.
GROUPS = {
    "child_of": "parent",
    "parent_of": "children",
    "related": "related",
    "duplicate_of": "duplicate_of",
    "duplicated_by": "duplicates",
    "merged_into": "merged_into",
    "merged_from": "merged_from",
}
SINGLE = frozenset({"parent", "merged_into"})


def _other() -> Any:
    """The other end of each link of the case ``:case_id``, and how the link reads from its side."""
    case_id: BindParameter[str] = bindparam("case_id")
    mine = and_(col(CaseLink.case_id) == case_id, col(Case.id) == col(CaseLink.other_case_id))
    theirs = and_(col(CaseLink.other_case_id) == case_id, col(Case.id) == col(CaseLink.case_id))
    return (
        select(
            col(CaseLink.case_id),
            col(CaseLink.kind),
            col(Case.id),
            col(Case.incident_type),
            col(Case.status),
            col(Case.priority),
            col(Case.next_deadline_at),
        )
        .select_from(CaseLink)
        .join(Case, or_(mine, theirs))
        .where(or_(col(CaseLink.case_id) == case_id, col(CaseLink.other_case_id) == case_id))
        .order_by(col(CaseLink.id))
    )


#: Built once: building it per read cost more than running it (~60% of GET /v1/cases/{id} under
#: the profiler, with the ORM session's execution); it runs on the connection, as Core.
_OTHER = _other()


class LinkedCase(TypedDict):
    id: str
    incident_type: str
    status: str
    priority: str
    next_deadline_at: datetime | None


class CaseLinks(TypedDict):
    """The cases linked to one case, by how they relate to it."""

    parent: LinkedCase | None
    children: list[LinkedCase]
    related: list[LinkedCase]
    duplicate_of: list[LinkedCase]
    duplicates: list[LinkedCase]
    merged_into: LinkedCase | None
    merged_from: list[LinkedCase]


def empty_links() -> CaseLinks:
    return {
        "parent": None,
        "children": [],
        "related": [],
        "duplicate_of": [],
        "duplicates": [],
        "merged_into": None,
        "merged_from": [],
    }


def linked_cases(bind: Session | Connection, case_id: str) -> CaseLinks:
    """``{"parent": {...} | None, "children": [...], "related": [...], "duplicate_of": [...],
    "duplicates": [...], "merged_into": {...} | None, "merged_from": [...]}``; each case as
    ``{id, incident_type, status, priority, next_deadline_at}``."""
    connection = bind.connection() if isinstance(bind, Session) else bind
    rows: Sequence[Any] = connection.execute(_OTHER, {"case_id": case_id}).all()
    links = empty_links()
    for source, kind, other_id, incident_type, status, priority, due in rows:
        side = SIDES[LinkKind(kind)][0 if source == case_id else 1]
        entry: LinkedCase = {
            "id": other_id,
            "incident_type": incident_type,
            "status": str(status),
            "priority": priority,
            "next_deadline_at": due,
        }
        group = GROUPS[side]
        if group in SINGLE:
            links[group] = entry  # type: ignore[literal-required]
        else:
            links[group].append(entry)  # type: ignore[literal-required]
    return links


def open_children(session: Session, case_id: str) -> list[str]:
    """The ids of ``case_id``'s children still being worked, oldest link first."""
    query = (
        select(col(Case.id))
        .join(CaseLink, col(CaseLink.other_case_id) == col(Case.id))
        .where(col(CaseLink.case_id) == case_id, col(CaseLink.kind) == LinkKind.PARENT_OF)
        .where(col(Case.status).in_([str(s) for s in ACTIVE_STATUSES]))
        .order_by(col(CaseLink.id))
    )
    return list(session.execute(query).scalars())


def survivor_of(session: Session, case: Case) -> Case:
    """The case a merged case lives on in (following merges of merges); ``case`` itself otherwise."""
    seen = {case.id}
    while case.status is Status.MERGED:
        query = select(col(CaseLink.other_case_id)).where(
            col(CaseLink.case_id) == case.id, col(CaseLink.kind) == LinkKind.MERGED_INTO
        )
        survivor_id = session.execute(query).scalar()
        survivor = session.get(Case, survivor_id) if survivor_id is not None else None
        if survivor is None or survivor.id in seen:
            return case
        seen.add(survivor.id)
        case = survivor
    return case
