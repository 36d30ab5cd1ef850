"""The creator's status link: an agent rotates it when it leaked or the creator lost it.

The new link is answered once (only its hash is stored); the old one stops working when the route's
transaction commits. The rotation is recorded as ``creator_link_rotated`` (without the token).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.bodies import CreatorLinkView
from api.deps import PROBLEMS, CaseId, CaseWriter, EngineDep, NowDep
from casework.creator import links
from models.db import session_scope

router = APIRouter(prefix="/v1/cases", tags=["cases"])


@router.post(
    "/{case_id}/creator-link",
    response_model=CreatorLinkView,
    summary="Rotate the creator's status link",
    responses={**PROBLEMS, 404: {"description": "No such case"}},
)
def rotate_creator_link(
    case_id: CaseId, holder: CaseWriter, engine: EngineDep, now: NowDep
) -> CreatorLinkView:
    """Give the case's creator a new status link; the previous link answers 404 from now on."""
    with session_scope(engine) as session:
        token = links.rotate_link(session, case_id, holder.actor, now)
    return CreatorLinkView(case_id=case_id, creator_link=links.status_url(token))
