"""Compliance reports (/console/reports, auditors and admins): the compliance table of the cases
opened in a period by incident type, priority, queue or policy version; two SVG charts (% met per
group for each clock; how late breaches were recorded); CSV downloads of both tables."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from casework.reports.compliance_report import GroupBy, compliance_report
from casework.reports.lateness import Bucket, lateness_histogram
from console import auth
from console.auth import ConsoleUser
from console.charts import BarChart, bar_chart
from console.pages import FormError, csv_response, parse_day, render
from models.db import session_scope

router = APIRouter(prefix="/console", include_in_schema=False)

Auditor = Annotated[ConsoleUser, Depends(auth.require(*auth.AUDIT_READERS))]
Day = Annotated[str, Query(max_length=20)]
DEFAULT_DAYS = 30
CLOCK_CSS = ("bar-a", "bar-b", "bar-c", "bar-d")


def period(start_text: str, end_text: str, now: datetime) -> tuple[datetime, datetime]:
    """``[from, to + 1 day)`` from the form's days; default the last 30 days up to today."""
    end_day = parse_day(end_text, "to")
    end = end_day + timedelta(days=1) if end_day else now
    start = parse_day(start_text, "from") or end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise FormError("from: must be on or before 'to'")
    return start, end


def met_chart(report: dict[str, Any]) -> BarChart:
    items: list[tuple[str, float | None, str]] = []
    for group in report["groups"]:
        for i, clock in enumerate(report["clocks"]):
            tally = group["clocks"].get(clock)
            value = tally["percent_met"] if tally else None
            items.append((f"{group['key']} · {clock}", value, CLOCK_CSS[i % len(CLOCK_CSS)]))
    return bar_chart(f"% met per {report['group_by'].replace('_', ' ')} and clock", items, 100.0)


def lateness_chart(buckets: list[Bucket]) -> BarChart:
    top = max((b.count for b in buckets), default=0)
    items = [(b.label, float(b.count), "bar-late") for b in buckets]
    return bar_chart("Breaches by how late they were recorded", items, float(top))


def compliance_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for group in report["groups"]:
        for clock in report["clocks"]:
            tally = group["clocks"].get(clock)
            if tally is None:
                continue
            rows.append(
                [
                    group["key"], group["cases"], clock, tally["met"], tally["breached"], tally["pending"],
                    tally["percent_met"], tally["working_seconds"]["median"], tally["working_seconds"]["p90"],
                    sum(group["escalations"].values()),
                ]
            )  # fmt: skip
    return rows


COMPLIANCE_HEADER = (
    "group", "cases", "clock", "met", "breached", "pending", "percent_met",
    "median_working_seconds", "p90_working_seconds", "escalations",
)  # fmt: skip


@router.get("/reports")
def reports(
    request: Request,
    user: Auditor,
    start: Annotated[str, Query(alias="from", max_length=20)] = "",
    to: Day = "",
    group_by: Annotated[str, Query(max_length=40)] = "incident_type",
    table: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    context: dict[str, Any] = {"title": "Reports", "start": start, "to": to, "group_by": group_by}
    context["group_choices"] = [g.value for g in GroupBy]
    try:
        begin, end = period(start, to, auth.now_of(request))
        grouping = GroupBy(group_by) if group_by in GroupBy.__members__.values() else None
        if grouping is None:
            raise FormError(f"group by: one of {', '.join(g.value for g in GroupBy)}")
    except FormError as err:
        return render(request, "console/reports.html", user, {**context, "error": str(err)}, 400)
    with session_scope(request.app.state.engine, write=False) as session:
        report = compliance_report(session, begin, end, grouping)
        buckets = lateness_histogram(session, begin, end)
    stamp = f"{begin:%Y%m%d}-{end:%Y%m%d}"
    if table == "compliance":
        return csv_response(f"lifeline-compliance-{stamp}.csv", COMPLIANCE_HEADER, compliance_rows(report))
    if table == "lateness":
        rows = [(b.label, b.low, b.high, b.count) for b in buckets]
        header = ("bucket", "from_seconds", "to_seconds", "breaches")
        return csv_response(f"lifeline-lateness-{stamp}.csv", header, rows)
    context.update(
        report=report,
        rows=compliance_rows(report),
        buckets=buckets,
        met_chart=met_chart(report),
        late_chart=lateness_chart(buckets),
        begin=begin,
        end=end,
        query={"from": start, "to": to, "group_by": group_by},
    )
    return render(request, "console/reports.html", user, context)
