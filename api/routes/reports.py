"""Compliance reports for auditors and leads (casework.reports.compliance_report has the definitions)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.checked_input import CheckedRoute, Instant
from api.deps import PROBLEMS, AuditReader, EngineDep, NowDep, check_period
from casework.reports.compliance_report import GroupBy, Source, compliance_report
from models.db import session_scope

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=CheckedRoute)

DEFAULT_PERIOD = timedelta(days=30)


class Quantiles(BaseModel):
    median: float | None
    p90: float | None


class ClockCompliance(BaseModel):
    met: int = Field(description="Cases whose clock stopped without a breach")
    breached: int = Field(description="Cases with a breach of this clock (even if it stopped later)")
    pending: int = Field(description="Cases whose clock neither stopped nor breached yet")
    percent_met: float | None = Field(description="met / (met + breached) x 100; null when both are 0")
    working_seconds: Quantiles = Field(description="Working time to the clock's last stop")
    wall_seconds: Quantiles = Field(description="Wall time from opening to the clock's last stop")
    cycles: int = Field(0, description="Cycle clocks: cycles ended or breached (0 for elapsed clocks)")
    missed_cycles: int = Field(0, description="Cycle clocks: cycles that breached")


class GroupCompliance(BaseModel):
    key: str
    cases: int = Field(description="Cases opened in the period")
    clocks: dict[str, ClockCompliance]
    escalations: dict[str, int] = Field(description="Escalations by the stage entered (automatic and manual)")
    manual_escalations: dict[str, int] = Field(description="Escalations made by an agent, by stage")


class ComplianceReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    period_from: datetime = Field(alias="from")
    to: datetime
    group_by: GroupBy
    clocks: list[str]
    groups: list[GroupCompliance]
    source: Source = Field(
        description="rollup: whole days from the roll-ups kept on write (partial first and last days "
        "scanned); exact: the period's history scanned (?exact=true, or group_by=assignee)"
    )
    relative_accuracy: float = Field(
        description="How far a median or p90 may be from the exact one, relative (0.01 = 1%; 0 when "
        "exact); counts are always exact"
    )


@router.get(
    "/compliance", response_model=ComplianceReport, summary="SLA compliance of the cases opened in a period",
    responses=PROBLEMS,
)  # fmt: skip
def compliance(
    holder: AuditReader,
    engine: EngineDep,
    now: NowDep,
    period_from: Annotated[
        Instant | None,
        Query(alias="from", description="Cases opened at or after (default: to - 30 days)"),
    ] = None,
    to: Annotated[Instant | None, Query(description="Cases opened before (default: now)")] = None,
    group_by: Annotated[GroupBy, Query()] = GroupBy.INCIDENT_TYPE,
    exact: Annotated[bool, Query(description="Scan the history instead of reading the roll-ups")] = False,
) -> ComplianceReport:
    """Per group: cases opened; per clock met, breached, pending, percent met, median and p90 time to
    the clock's stop (working and wall); escalations per stage. See docs/auditing.md and docs/api.md
    (roll-ups: percentiles within 1%, counts exact; ``exact=true`` scans)."""
    end = to or now
    start = period_from or end - DEFAULT_PERIOD
    check_period(start, end)
    with session_scope(engine, write=False) as session:
        report = compliance_report(session, start, end, group_by, exact=exact)
    return ComplianceReport.model_validate(report)
