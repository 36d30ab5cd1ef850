"""Case listings shared by the routes that list cases (GET /v1/cases, GET /v1/creators/{id}/cases),
the filter a request body may carry (bulk actions, policy migrations)
and the search parameter ``q`` (also a bulk action's filter): one page of briefs, written from its
parts (``Page[CaseBrief]`` would validate every item again)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr, TypeAdapter
from sqlalchemy import Engine

from api.headers import public_url
from api.problems import validation_problem
from casework.cases.assignees import listing_assignee
from casework.errors import InvalidAction
from casework.queries import case_queries
from casework.queries.case_queries import CaseFilters
from casework.queries.case_view import CASE_BRIEFS, case_briefs
from casework.search.conditions import search_terms
from sla_engine.kinds import Status

Short = Annotated[StrictStr, Field(max_length=200)]


def query_words(q: str | None) -> str | None:
    """``q`` as the search's terms; a 422 naming ``q`` when it holds no word."""
    if q is None:
        return None
    try:
        return search_terms(q)
    except InvalidAction as err:
        raise validation_problem([{"parameter": "q", "in": "query", "message": str(err)}]) from None


def list_response(
    engine: Engine, request: Request, filters: CaseFilters, limit: int, cursor: str | None, now: datetime
) -> Response:
    with engine.connect() as connection, connection.begin():
        page = case_queries.list_cases(connection, filters, limit, cursor)
        # The connection reads a policy version only if it is not parsed yet (immutable rows).
        items = case_briefs(connection, page.items, now)
    link = public_url(request.url.include_query_params(cursor=page.next_cursor)) if page.next_cursor else None
    body = b'{"items":' + CASE_BRIEFS.dump_json(items) + b',"next":' + PAGE_LINK.dump_json(link) + b"}"
    return Response(body, media_type="application/json")


#: The listing's page is written from its parts: ``Page[CaseBrief]`` would validate every item again.
PAGE_LINK = TypeAdapter(str | None)


class BulkFilter(BaseModel):
    """The filters of GET /v1/cases: every case matching all of them (at most 10,000)."""

    model_config = ConfigDict(extra="forbid")

    status: list[Status] | None = None
    incident_type: Short | None = None
    queue: Short | None = None
    priority: Short | None = None
    assignee: Short | None = None
    breached: bool | None = None
    due_before: AwareDatetime | None = None
    creator: Short | None = None
    handle: Short | None = None
    q: Short | None = None


def case_filters(selection: BulkFilter, actor: str) -> CaseFilters:
    """A request body's filter (bulk actions, policy migrations) as the listing's filters."""
    values = selection.model_dump(exclude_none=True)
    values["assignee"] = listing_assignee(selection.assignee, actor)
    values["status"] = tuple(values.get("status", ()))
    if selection.q is not None:
        values["q"] = query_words(selection.q)
    return CaseFilters(**values)
