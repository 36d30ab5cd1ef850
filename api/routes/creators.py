"""A creator's cases: every case whose ``attributes.creator.id`` is the creator's, nearest deadline
first, as GET /v1/cases lists them (the same filters and paging)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import Engine

from api.bodies import Page
from api.checked_input import CheckedRoute
from api.deps import PROBLEMS, Reader
from api.listing import list_response
from api.reads import short_read
from casework.queries.case_queries import CaseFilters
from casework.queries.case_view import CaseBrief
from casework.queries.pagination import MAX_PAGE
from sla_engine.kinds import Status

router = APIRouter(prefix="/v1/creators", tags=["cases"], route_class=CheckedRoute)


@router.get(
    "/{creator_id}/cases",
    response_model=Page[CaseBrief],
    summary="A creator's cases by nearest deadline",
    responses=PROBLEMS,
)
async def creator_cases(
    creator_id: Annotated[str, Path(max_length=200, description="attributes.creator.id, e.g. cr_1042")],
    holder: Reader,
    request: Request,
    status: Annotated[list[Status] | None, Query(description="Repeat for several")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500, description="From a previous page's `next`")] = None,
) -> Response:
    """Every case of the creator (any incident type, open or not unless ``status`` says), an empty
    page for a creator with none."""
    filters = CaseFilters(status=status or (), creator=creator_id)
    engine: Engine = request.app.state.engine
    now: datetime = request.app.state.clock()
    return await short_read(engine, list_response, engine, request, filters, limit, cursor, now)
