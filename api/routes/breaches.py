"""Breaches: every missed deadline, of a clock or a stage, for auditors and leads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.bodies import BreachView, Page
from api.checked_input import CheckedRoute, Instant
from api.deps import PROBLEMS, EngineDep, Reader
from api.headers import public_url
from casework.queries import breach_queries
from casework.queries.breach_queries import BreachFilters
from casework.queries.pagination import MAX_PAGE
from models.db import session_scope

router = APIRouter(prefix="/v1/breaches", tags=["breaches"], route_class=CheckedRoute)


@router.get("", response_model=Page[BreachView], summary="List breaches", responses=PROBLEMS)
def list_breaches(
    holder: Reader,
    engine: EngineDep,
    request: Request,
    since: Annotated[Instant | None, Query(description="Deadline (due_at) at or after")] = None,
    until: Annotated[Instant | None, Query(description="Deadline (due_at) before")] = None,
    incident_type: Annotated[str | None, Query(max_length=100)] = None,
    clock: Annotated[
        str | None, Query(max_length=100, description="A clock name, e.g. first_response")
    ] = None,
    stage: Annotated[str | None, Query(max_length=100, description="A stage id, e.g. frontline")] = None,
    priority: Annotated[str | None, Query(max_length=20)] = None,
    case_id: Annotated[str | None, Query(max_length=40)] = None,
    queue: Annotated[
        str | None, Query(max_length=100, description="The case's queue when the deadline was missed")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[BreachView]:
    """Breaches by deadline, oldest first. ``clock`` and ``stage`` together match either."""
    filters = BreachFilters(
        since=since,
        until=until,
        incident_type=incident_type,
        clock=clock,
        stage=stage,
        priority=priority,
        case_id=case_id,
        queue=queue,
    )
    with session_scope(engine, write=False) as session:
        page = breach_queries.list_breaches(session, filters, limit, cursor)
    link = public_url(request.url.include_query_params(cursor=page.next_cursor)) if page.next_cursor else None
    items = [BreachView.model_validate(breach_queries.breach_fields(b)) for b in page.items]
    return Page[BreachView](items=items, next=link)
