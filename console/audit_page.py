"""Audit (/console/audit, auditors and admins): run the chain-and-replay verification (all cases,
those changed since a day, or one case: each case page links here with its id) and show what it
found; export the events recorded in a period as JSONL or CSV (the same stream as the API's)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from casework.audit.export import MEDIA_TYPES, ExportFormat, export_chunks
from casework.audit.verify import verify
from casework.errors import CaseworkError
from console import auth
from console.auth import ConsoleUser
from console.messages import console_message
from console.pages import FormError, parse_day, render
from models.db import session_scope

router = APIRouter(prefix="/console", include_in_schema=False)

Auditor = Annotated[ConsoleUser, Depends(auth.require(*auth.AUDIT_READERS))]
Text = Annotated[str, Query(max_length=40)]


@router.get("/audit")
def audit(request: Request, user: Auditor, case_id: Text = "", since: Text = "", run: Text = "") -> Response:
    """The forms; with ``run`` set, the verification's result too (a read: a GET form)."""
    context: dict[str, Any] = {"title": "Audit", "case_id": case_id, "since": since, "report": None}
    if not run:
        return render(request, "console/audit.html", user, context)
    try:
        start = parse_day(since, "since")
        with session_scope(request.app.state.engine, write=False) as session:
            report = verify(session, auth.now_of(request), case_id=case_id or None, since=start)
    except FormError as err:
        return render(request, "console/audit.html", user, {**context, "error": str(err)}, 400)
    except CaseworkError as err:
        status, message = console_message(err) or (422, str(err))
        return render(request, "console/audit.html", user, {**context, "error": message}, status)
    return render(request, "console/audit.html", user, {**context, "report": report.to_dict()})


@router.get("/audit/export")
def export(
    request: Request,
    user: Auditor,
    start: Annotated[str, Query(alias="from", max_length=20)] = "",
    to: Text = "",
    format: Text = "jsonl",  # noqa: A002 - the query's name
) -> Response:
    """Every event recorded in ``[from, to + 1 day)`` (either end open when empty), streamed."""
    context: dict[str, Any] = {"title": "Audit", "case_id": "", "since": "", "report": None}
    try:
        begin, end_day = parse_day(start, "from"), parse_day(to, "to")
        end = end_day + timedelta(days=1) if end_day else None
        if begin and end and begin >= end:
            raise FormError("from: must be on or before 'to'")
        if format not in ExportFormat.__members__.values():
            raise FormError("format: jsonl or csv")
    except FormError as err:
        return render(request, "console/audit.html", user, {**context, "error": str(err)}, 400)
    fmt = ExportFormat(format)
    name = f"lifeline-events-{start or 'all'}-{to or 'all'}.{fmt}"
    return StreamingResponse(
        export_chunks(request.app.state.engine, fmt, begin, end),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
