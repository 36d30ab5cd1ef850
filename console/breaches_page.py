"""Breaches (/console/breaches, auditors and admins): every missed deadline, filtered by the URL,
oldest deadline first, cursor paging, and the same filtered table as CSV (``?format=csv``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from casework.errors import InvalidCursor
from casework.queries import breach_queries
from casework.queries.breach_queries import BreachFilters
from console import auth
from console.auth import ConsoleUser
from console.pages import FormError, csv_response, iso_z, parse_day, render
from models.db import session_scope

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 100
CSV_PAGE = 1000
Auditor = Annotated[ConsoleUser, Depends(auth.require(*auth.AUDIT_READERS))]
Text = Annotated[str, Query(max_length=100)]
FILTER_NAMES = ("since", "until", "incident_type", "priority", "clock", "stage", "queue", "case_id")
CSV_HEADER = (
    "case_id", "incident_type", "target_type", "target", "priority", "queue",
    "due_at", "detected_at", "lateness_seconds", "policy_version",
)  # fmt: skip


def _filters(values: dict[str, str]) -> BreachFilters:
    until = parse_day(values["until"], "until")
    return BreachFilters(
        since=parse_day(values["since"], "since"),
        until=until + timedelta(days=1) if until else None,  # the day named is included
        **{name: values[name] or None for name in FILTER_NAMES[2:]},
    )


def _row(breach: Any) -> tuple[Any, ...]:
    fields = breach_queries.breach_fields(breach)
    return (
        fields["case_id"], fields["incident_type"], fields["target_type"], fields["target"],
        fields["priority"], fields["queue"], iso_z(fields["due_at"]), iso_z(fields["detected_at"]),
        round(fields["lateness_seconds"], 3), fields["policy_version"],
    )  # fmt: skip


def _all_rows(engine: Engine, filters: BreachFilters) -> Iterator[tuple[Any, ...]]:
    cursor: str | None = None
    while True:
        with session_scope(engine, write=False) as session:
            page = breach_queries.list_breaches(session, filters, CSV_PAGE, cursor)
            rows = [_row(b) for b in page.items]
        yield from rows
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@router.get("/breaches")
def breaches(
    request: Request,
    user: Auditor,
    since: Text = "",
    until: Text = "",
    incident_type: Text = "",
    priority: Text = "",
    clock: Text = "",
    stage: Text = "",
    queue: Text = "",
    case_id: Text = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    format: Annotated[str, Query(max_length=10)] = "html",  # noqa: A002 - the query's name
) -> Response:
    values = {"since": since, "until": until, "incident_type": incident_type, "priority": priority}
    values.update({"clock": clock, "stage": stage, "queue": queue, "case_id": case_id})
    context: dict[str, Any] = {"title": "Breaches", "values": values}
    try:
        filters = _filters(values)
    except FormError as err:
        return render(request, "console/breaches.html", user, {**context, "error": str(err), "rows": []}, 400)
    engine = request.app.state.engine
    if format == "csv":
        return csv_response("lifeline-breaches.csv", CSV_HEADER, _all_rows(engine, filters))
    try:
        with session_scope(engine, write=False) as session:
            page = breach_queries.list_breaches(session, filters, PAGE_SIZE, cursor)
    except InvalidCursor:
        message = "This page link is no longer valid; start again from the first page."
        return render(request, "console/breaches.html", user, {**context, "error": message, "rows": []}, 400)
    query = {k: v for k, v in values.items() if v}
    context.update(
        rows=[_row(b) for b in page.items],
        query=query,
        next_cursor=page.next_cursor,
        csv_query={**query, "format": "csv"},
    )
    return render(request, "console/breaches.html", user, context)
