"""The creator's status link: an agent rotates it when it leaked or the creator lost it.

The new link is answered once (only its hash is stored); the old one stops working when the route's
transaction commits. The rotation is recorded as ``creator_link_rotated`` (without the token).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import CaseWriter, EngineDep, NowDep
from api.schemas import CreatorLinkView
from casework.creator import links
from models.db import session_scope

router = APIRouter(prefix="/v1/cases", tags=["cases"])


@router.post(
    "/{case_id}/creator-link",
    response_model=CreatorLinkView,
    summary="Rotate the creator's status link",
    responses={
        401: {"description": "No key, or an unknown or revoked key"},
        403: {"description": "The key's role may not use this route"},
        404: {"description": "No such case"},
    },
)
def rotate_creator_link(
    case_id: Annotated[str, Path(max_length=40)], holder: CaseWriter, engine: EngineDep, now: NowDep
) -> CreatorLinkView:
    """Give the case's creator a new status link; the previous link answers 404 from now on."""
    with session_scope(engine) as session:
        token = links.rotate_link(session, case_id, holder.actor, now)
    return CreatorLinkView(case_id=case_id, creator_link=links.status_url(token))
