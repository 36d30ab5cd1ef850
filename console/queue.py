"""The agents' queue (/console/queue): open cases by nearest deadline, filtered by the URL.

Live updates are short polling: the page's script asks ``/console/queue/rows`` (the same query
string) every second with ``If-None-Match`` and swaps the table body when the answer changed (304
otherwise). Polling rather than server-sent events because each poll is a short read the server
already does fast, it needs no connection held per open tab (uvicorn's workers and proxies stay
free), and it works unchanged behind any proxy; a change shows within one poll interval plus a
render, well under the 2 seconds asked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from casework.cases.assignees import known_agents
from casework.errors import InvalidCursor
from casework.queries.case_queries import CaseFilters
from casework.queries.pagination import PageOf
from casework.queries.queue_rows import Deadline, QueueRow, queue_choices, queue_page
from console import auth
from console.auth import ConsoleUser
from console.pages import countdown_text, iso_z, render, utc_text
from console.web import templates
from models.db import short_read
from sla_engine.kinds import ACTIVE_STATUSES, Status

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 50
POLL_MILLISECONDS = 1000
Viewer = Annotated[ConsoleUser, Depends(auth.require(*auth.QUEUE_READERS))]
Text = Annotated[str | None, Query(max_length=100)]
OPEN_STATUSES = tuple(sorted(ACTIVE_STATUSES))


@dataclass(frozen=True)
class QueueQuery:
    """The queue's filters as the URL holds them ("" for unset), so a filtered queue is a bookmark."""

    queue: str = ""
    priority: str = ""
    incident_type: str = ""
    assignee: str = ""
    breached: str = ""
    waiting: str = ""

    def filters(self, user: ConsoleUser) -> CaseFilters:
        return CaseFilters(
            status=(Status.WAITING_ON_CREATOR,) if self.waiting else OPEN_STATUSES,
            queue=self.queue or None,
            priority=self.priority or None,
            incident_type=self.incident_type or None,
            assignee=user.holder.name if self.assignee == "me" else self.assignee or None,
            breached=True if self.breached else None,
        )

    def query_string(self, **extra: str) -> str:
        pairs = {k: v for k, v in vars(self).items() if v}
        pairs.update({k: v for k, v in extra.items() if v})
        return urlencode(pairs)


def _query(
    queue: Text = None,
    priority: Text = None,
    incident_type: Text = None,
    assignee: Text = None,
    breached: Text = None,
    waiting: Text = None,
) -> QueueQuery:
    return QueueQuery(
        queue or "",
        priority or "",
        incident_type or "",
        assignee or "",
        "1" if breached else "",
        "1" if waiting else "",
    )


Filters = Annotated[QueueQuery, Depends(_query)]
Cursor = Annotated[str | None, Query(max_length=500)]


def _read(request: Request, filters: CaseFilters, cursor: str | None) -> PageOf[QueueRow]:
    engine = request.app.state.engine
    with engine.connect() as connection, connection.begin():
        return queue_page(connection, filters, PAGE_SIZE, cursor)


def _bad_cursor(request: Request, user: ConsoleUser) -> Response:
    message = "This page link is no longer valid. Start again from the first page of the queue."
    return render(request, "console/error.html", user, {"title": "Queue", "message": message}, 400)


@dataclass(frozen=True)
class Countdown:
    """A row's deadline as its countdown shows it: every text and class computed here, once, so
    the template only prints them (a template include and filters per row cost more than the
    rest of the page)."""

    css: str  # the class names after "countdown": "", " warn" or " breached"
    label: str  # on time, at risk, breached: the colour is never the only signal
    due_iso: str
    due_utc: str
    text: str  # what the script counts down from: "in 4m 09s", "2m 00s overdue"
    warn_iso: str
    breached: bool  # the clock has breached (the script keeps it red whatever the time)
    name: str


@dataclass(frozen=True)
class Line:
    """A queue row as the table shows it (``_queue_rows.html``)."""

    id: str
    version: int
    summary: str | None
    handle: str
    platform: str
    incident_type: str
    priority: str
    priority_reason: str
    stage: str
    queue: str
    status: str
    assignee: str
    due: Countdown | None


def countdown(due: Deadline, now: datetime) -> Countdown:
    late = due.breached or due.due_at <= now
    warn = due.at_risk(now)
    return Countdown(
        css=" breached" if late else " warn" if warn else "",
        label="breached" if late else "at risk" if warn else "on time",
        due_iso=iso_z(due.due_at),
        due_utc=utc_text(due.due_at),
        text=countdown_text(due.due_at, now),
        # A recorded warning has no warn_due_at left: any past instant tells the script it is at risk.
        warn_iso=iso_z(due.warn_at or (now if due.warned else None)),
        breached=due.breached,
        name=f"escalates from {due.name}" if due.escalation else due.name,
    )


def lines(rows: list[QueueRow], now: datetime) -> list[Line]:
    return [
        Line(
            id=row.case.id,
            version=row.case.version,
            summary=row.case.summary,
            handle=row.creator_handle or "—",
            platform=row.creator_platform or "",
            incident_type=row.case.incident_type,
            priority=row.case.priority,
            priority_reason=row.case.priority_reason,
            stage=str(row.case.stage.get("id", "")),
            queue=row.case.queue,
            status=row.case.status.replace("_", " "),
            assignee=row.case.assignee or "unassigned",
            due=None if row.deadline is None else countdown(row.deadline, now),
        )
        for row in rows
    ]


@router.get("/queue")
async def queue(request: Request, user: Viewer, query: Filters, cursor: Cursor = None) -> Response:
    """Inline on SQLite, in the thread pool otherwise (``short_read``): a page is a few indexed
    reads and a render of 50 precomputed rows, cheaper than the hop to a thread and back."""
    return await short_read(request.app.state.engine, _queue_page, request, user, query, cursor)


def _queue_page(request: Request, user: ConsoleUser, query: QueueQuery, cursor: str | None) -> Response:
    engine = request.app.state.engine
    try:
        with engine.connect() as connection, connection.begin():
            page = queue_page(connection, query.filters(user), PAGE_SIZE, cursor)
            session = Session(connection)
            choices, agents = queue_choices(session), known_agents(session)
    except InvalidCursor:
        return _bad_cursor(request, user)
    context = {
        "title": "Queue",
        "query": query,
        "choices": choices,
        "agents": agents,
        "cursor": cursor,
        "next_link": f"/console/queue?{query.query_string(cursor=page.next_cursor)}"
        if page.next_cursor
        else None,
        "rows_url": f"/console/queue/rows?{query.query_string(cursor=cursor or '')}",
        "poll_ms": POLL_MILLISECONDS,
        "rows": lines(page.items, auth.now_of(request)),
    }
    return render(request, "console/queue.html", user, context)


@router.get("/queue/rows")
async def queue_rows(request: Request, user: Viewer, query: Filters, cursor: Cursor = None) -> Response:
    """The queue's table body alone, for the live update (ETag: 304 when nothing changed)."""
    return await short_read(request.app.state.engine, _rows, request, user, query, cursor)


def _rows(request: Request, user: ConsoleUser, query: QueueQuery, cursor: str | None) -> Response:
    try:
        page = _read(request, query.filters(user), cursor)
    except InvalidCursor:
        return _bad_cursor(request, user)
    # The countdown's text is the script's job between renders: leave it out of the tag so a tick of
    # the server's clock alone does not count as a change.
    digest = hashlib.sha256(_stable(page).encode()).hexdigest()[:32]
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)  # most polls: nothing rendered
    context = {"rows": lines(page.items, auth.now_of(request))}
    html = templates.get_template("console/_queue_rows.html").render(context)
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


def _stable(page: PageOf[QueueRow]) -> str:
    return "|".join(f"{row.case.id}:{row.case.version}" for row in page.items) + f"#{page.next_cursor}"
