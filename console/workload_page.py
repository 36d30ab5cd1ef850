"""The workload (/console/workload): open cases grouped by assignee, for agents and admins who
balance the desk (casework.queries.workload says what each number counts). Every known agent has a
row, so who is free shows too; each named row links to the queue filtered to that assignee."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from casework.cases.assignees import known_agents
from casework.queries.workload import workload
from console import auth
from console.auth import ConsoleUser
from console.pages import countdown_text, render
from models.db import session_scope

router = APIRouter(prefix="/console", include_in_schema=False)

Viewer = Annotated[ConsoleUser, Depends(auth.require(*auth.QUEUE_READERS))]


@router.get("/workload")
def workload_page(request: Request, user: Viewer) -> Response:
    now = auth.now_of(request)
    engine = request.app.state.engine
    with session_scope(engine, write=False) as session:
        agents = known_agents(session)
    with engine.connect() as connection, connection.begin():
        loads = workload(connection, now, agents)
    context = {
        "title": "Workload",
        "loads": loads,
        "now": now,
        "countdown_text": countdown_text,
        "total": sum(load.open for load in loads),
    }
    return render(request, "console/workload.html", user, context)
