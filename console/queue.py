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
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from casework.cases.assignees import known_agents
from casework.errors import InvalidCursor
from casework.queries.case_queries import CaseFilters
from casework.queries.pagination import PageOf
from casework.queries.queue_rows import QueueRow, queue_choices, queue_page
from console import auth
from console.auth import ConsoleUser
from console.pages import countdown_text, render
from console.web import templates
from models.db import session_scope
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


def _rows_context(request: Request, user: ConsoleUser, page: PageOf[QueueRow]) -> dict[str, object]:
    now = auth.now_of(request)
    return {"rows": page.items, "now": now, "countdown_text": countdown_text, "user": user}


@router.get("/queue")
def queue(request: Request, user: Viewer, query: Filters, cursor: Cursor = None) -> Response:
    try:
        page = _read(request, query.filters(user), cursor)
    except InvalidCursor:
        return _bad_cursor(request, user)
    with session_scope(request.app.state.engine, write=False) as session:
        choices = queue_choices(session)
        agents = known_agents(session)
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
        **_rows_context(request, user, page),
    }
    return render(request, "console/queue.html", user, context)


@router.get("/queue/rows")
def queue_rows(request: Request, user: Viewer, query: Filters, cursor: Cursor = None) -> Response:
    """The queue's table body alone, for the live update (ETag: 304 when nothing changed)."""
    try:
        page = _read(request, query.filters(user), cursor)
    except InvalidCursor:
        return _bad_cursor(request, user)
    html = templates.get_template("console/_queue_rows.html").render(_rows_context(request, user, page))
    # The countdown's text is the script's job between renders: leave it out of the tag so a tick of
    # the server's clock alone does not count as a change.
    digest = hashlib.sha256(_stable(page).encode()).hexdigest()[:32]
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


def _stable(page: PageOf[QueueRow]) -> str:
    return "|".join(f"{row.case.id}:{row.case.version}" for row in page.items) + f"#{page.next_cursor}"
