"""Linked cases: open a child case under a parent, link two cases (related, duplicate_of), unlink.

Each route owns its transaction; both cases of a link change (an event on each) in it. Answers
the case named in the path (the child, for POST /children) with its ``links``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlmodel import Session

from api.bodies import CaseCreate
from api.checked_input import CheckedRoute
from api.deps import PROBLEMS, CaseId, CaseWriter, EngineDep, NowDep
from api.problems import validation_problem
from casework.errors import PolicyNotRegistered
from casework.links import linking
from casework.queries import case_queries
from casework.queries.case_view import CASE_VIEW, CaseView, ViewedCase, case_view
from models.db import session_scope
from models.kinds import LinkKind

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=CheckedRoute)

LINK_PROBLEMS = {
    **PROBLEMS,
    404: {"description": "No such case (or link)"},
    409: {"description": "The cases are linked already, or the case takes no new links"},
}


class LinkCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"kind": "related", "case_id": "cs_01J..."}]}
    )

    kind: Literal["related", "duplicate_of"] = Field(
        description="related: same attacker wave; duplicate_of: this case repeats case_id"
    )
    case_id: Annotated[StrictStr, Field(min_length=1, max_length=40)]


def _answer(
    session: Session, case: ViewedCase, now: NowDep, status_code: int = 200, **headers: str
) -> Response:
    """The case's view, as every write answers it, with its version as ETag."""
    breached = bool(case_queries.breached_case_ids(session, [case.id]))
    body = CASE_VIEW.dump_json(case_view(session, case, now, breached))
    headers = {"ETag": f'"{case.version}"', **headers}
    return Response(body, status_code, headers, media_type="application/json")


@router.post(
    "/{case_id}/children",
    status_code=201,
    response_model=CaseView,
    summary="Open a child case",
    responses={**LINK_PROBLEMS, 404: {"description": "No such parent case"}},
)
def open_child(
    case_id: CaseId, body: CaseCreate, holder: CaseWriter, engine: EngineDep, now: NowDep, request: Request
) -> Response:
    """Open a case linked to its parent ``case_id`` (a compromised account's linked email, a second
    platform): its own incident type and policy, the parent's ``attributes.creator`` unless given.
    Both cases record ``linked``; the parent cannot be resolved while the child is open."""
    payload = body.model_dump(mode="json", exclude_unset=True)
    with session_scope(engine) as session:
        try:
            child, _parent = linking.open_child(
                session,
                case_id,
                attributes=payload.get("attributes", {}),
                actor=holder.actor,
                now=now,
                incident_type=body.incident_type,
                policy_id=body.policy_id,
                opened_at=body.opened_at,
            )
        except PolicyNotRegistered as err:
            pointer = "/policy_id" if body.policy_id is not None else "/incident_type"
            raise validation_problem([{"pointer": pointer, "message": str(err)}], str(err)) from None
        location = str(request.url_for("get_case", case_id=child.case.id))
        return _answer(session, child.case, now, 201, Location=location)


@router.post(
    "/{case_id}/links",
    status_code=201,
    response_model=CaseView,
    summary="Link two cases",
    responses=LINK_PROBLEMS,
)
def link(case_id: CaseId, body: LinkCreate, holder: CaseWriter, engine: EngineDep, now: NowDep) -> Response:
    """``{"kind": "related" | "duplicate_of", "case_id": ...}``: one link per pair of cases, an
    event ``linked`` on both. To merge a duplicate, use the action ``merge_into``."""
    with session_scope(engine) as session:
        mine, _theirs = linking.link_cases(
            session, case_id, LinkKind(body.kind), body.case_id, holder.actor, now
        )
        return _answer(session, mine.case, now, 201)


@router.delete(
    "/{case_id}/links/{other_case_id}",
    response_model=CaseView,
    summary="Unlink two cases",
    responses=LINK_PROBLEMS,
)
def unlink(
    case_id: CaseId,
    other_case_id: Annotated[str, Path(max_length=40, description="The linked case's id")],
    holder: CaseWriter,
    engine: EngineDep,
    now: NowDep,
) -> Response:
    """Remove the link between the two cases, whatever its kind (a merge stays): ``unlinked`` on both."""
    with session_scope(engine) as session:
        mine, _theirs = linking.unlink_cases(session, case_id, other_case_id, holder.actor, now)
        return _answer(session, mine.case, now)
