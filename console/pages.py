"""Rendering shared by the console's pages: the template call, the navigation by role, and the
filters templates use to show instants (``<time datetime="...Z">``) and durations.

Templates autoescape (console.web.templates): values from cases are always shown as text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from console.web import templates
from models.kinds import Role

if TYPE_CHECKING:
    from console.auth import ConsoleUser

#: (path, label, roles that see it) of the navigation bar.
NAV: tuple[tuple[str, str, tuple[Role, ...]], ...] = (
    ("/console/queue", "Queue", (Role.AGENT, Role.ADMIN)),
    ("/console/workload", "Workload", (Role.AGENT, Role.ADMIN)),
    ("/console/breaches", "Breaches", (Role.AUDITOR, Role.ADMIN)),
    ("/console/reports", "Reports", (Role.AUDITOR, Role.ADMIN)),
    ("/console/audit", "Audit", (Role.AUDITOR, Role.ADMIN)),
    ("/console/policies", "Policies", (Role.AUDITOR, Role.ADMIN)),
)


def iso_z(value: datetime | None) -> str:
    """An instant as ISO 8601 UTC with ``Z`` (what ``<time datetime>`` and the script read)."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_text(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def local_text(value: datetime | None) -> str:
    """A local time with its zone's abbreviation and offset (the calendar's zone)."""
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M %Z (UTC%z)")


def duration(seconds: float | None) -> str:
    """``2d 3h``, ``1h 05m``, ``4m 09s``: the two largest units, always positive."""
    if seconds is None:
        return ""
    total = int(abs(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def countdown_text(due: datetime | None, now: datetime) -> str:
    """What a countdown shows before the script takes over: ``in 4m 09s`` or ``4m 09s overdue``."""
    if due is None:
        return "nothing pending"
    left = (due - now).total_seconds()
    return f"in {duration(left)}" if left >= 0 else f"{duration(left)} overdue"


def pretty_json(value: Any) -> str:
    """JSON text for display (a plain string: the template escapes it)."""
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False, default=str)


def compact_json(value: Any) -> str:
    """One-line JSON for a table cell (a plain string: the template escapes it)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str, separators=(", ", ": "))


templates.env.filters["pretty_json"] = pretty_json
templates.env.filters["compact_json"] = compact_json
templates.env.filters["iso_z"] = iso_z
templates.env.filters["utc_text"] = utc_text
templates.env.filters["local_text"] = local_text
templates.env.filters["duration"] = duration


def nav_for(user: ConsoleUser | None) -> list[tuple[str, str]]:
    if user is None:
        return []
    return [(path, label) for path, label, roles in NAV if user.role in roles]


def render(
    request: Request,
    template: str,
    user: ConsoleUser | None,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    full = {"user": user, "nav": nav_for(user), "path": request.url.path, **context}
    response: Response = templates.TemplateResponse(
        request, template, full, status_code=status_code, headers=headers
    )
    return response


class FormError(ValueError):
    """A filter or form value the console cannot use; the page shows the message (400)."""


def parse_day(text: str | None, field: str) -> datetime | None:
    """A ``YYYY-MM-DD`` form value as midnight UTC; None when empty."""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise FormError(f"{field}: expected a date as YYYY-MM-DD, got {text!r}") from None
    return day.replace(tzinfo=UTC)


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download (UTF-8, one header line) of ``rows``, streamed."""

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=disposition)
