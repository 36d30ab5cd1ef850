"""Audit routes: the streamed history export and the chain-and-replay verification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.checked_input import CheckedRoute, Instant
from api.deps import PROBLEMS, AuditReader, EngineDep, NowDep, check_period
from casework.audit.digests import check_against_digest, configured_key_id, read_digest
from casework.audit.export import COLUMNS, MEDIA_TYPES, ExportFormat, export_chunks
from casework.audit.verify import verify
from casework.settings import get_settings
from models.db import session_scope

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=CheckedRoute)


@router.get(
    "/export",
    summary="Export every event recorded in a period (JSONL or CSV, streamed)",
    response_class=StreamingResponse,
    responses={
        **PROBLEMS,
        200: {
            "description": f"One event per line with the fields {', '.join(COLUMNS)}",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
    },
)
def export(
    holder: AuditReader,
    engine: EngineDep,
    period_from: Annotated[
        Instant | None, Query(alias="from", description="Events recorded at or after")
    ] = None,
    to: Annotated[Instant | None, Query(description="Events recorded before")] = None,
    format: Annotated[ExportFormat, Query(description="jsonl or csv")] = ExportFormat.JSONL,
) -> StreamingResponse:
    """Every event whose ``recorded_at`` is in ``[from, to)``, in recording order, with who did it,
    when it took effect and was recorded, its policy version and its hash chain."""
    if period_from is not None and to is not None:
        check_period(period_from, to)
    name = f"lifeline-events-{_stamp(period_from)}-{_stamp(to)}.{format}"
    return StreamingResponse(
        export_chunks(engine, format, period_from, to),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _stamp(value: datetime | None) -> str:
    return "all" if value is None else value.strftime("%Y%m%dT%H%M%SZ")


class FindingView(BaseModel):
    case_id: str
    seq: int | None = Field(description="The first event that cannot be trusted, or where one is missing")
    problem: str
    detail: str
    recorded: dict[str, Any] | None = Field(description="What the history holds")
    expected: dict[str, Any] | None = Field(description="What the replay of the policy says")


class LatenessView(BaseModel):
    count: int
    p50: float | None
    p99: float | None
    max: float | None


class VerifyView(BaseModel):
    clean: bool = Field(description="No chain problem and no replay finding")
    checked_at: datetime
    cases_checked: int
    events_checked: int
    chain_problems: list[FindingView]
    replay_findings: list[FindingView]
    lateness_seconds: LatenessView = Field(description="recorded_at - at of the timed events")
    overdue: list[dict[str, Any]] = Field(description="Timers past due now: the worker is behind")


@router.get(
    "/verify",
    response_model=VerifyView,
    summary="Verify hash chains and replay escalations against the pinned policy versions",
    responses={**PROBLEMS, 404: {"description": "No such case"}},
)
def verify_history(
    holder: AuditReader,
    engine: EngineDep,
    now: NowDep,
    case_id: Annotated[str | None, Query(max_length=40, description="Only this case")] = None,
    since: Annotated[
        Instant | None, Query(description="Only cases with an event recorded at or after")
    ] = None,
) -> VerifyView:
    """The same check as ``lifeline audit verify``: 200 with ``clean`` true or false. On a large
    database prefer the command line (or ``since`` / ``case_id``): this reads every history."""
    with session_scope(engine, write=False) as session:
        report = verify(session, now, case_id=case_id, since=since)
    return VerifyView.model_validate(report.to_dict())


class ExportedDigest(BaseModel):
    """A signed chain digest exactly as ``lifeline audit digest`` exports it."""

    body: str = Field(description="The signed JSON document (chain heads of every case)")
    signature: str = Field(description="Its Ed25519 signature, base64")


class DigestFindingView(BaseModel):
    case_id: str
    problem: str = Field(description="truncated, rewritten, missing, or another pinned policy version")


class DigestVerifyView(VerifyView):
    digest_findings: list[DigestFindingView] = Field(
        description="Cases whose history no longer reaches its digested head; not counted in clean"
    )


@router.post(
    "/verify",
    response_model=DigestVerifyView,
    summary="Verify as GET does, and check the history still reaches a signed chain digest",
    responses={**PROBLEMS, 404: {"description": "No such case"}},
)
def verify_history_against_digest(
    holder: AuditReader,
    engine: EngineDep,
    now: NowDep,
    digest: ExportedDigest,
    case_id: Annotated[str | None, Query(max_length=40, description="Only this case")] = None,
    since: Annotated[
        Instant | None, Query(description="Only cases with an event recorded at or after")
    ] = None,
) -> DigestVerifyView:
    """The same check as ``lifeline audit verify --digest FILE --format json``: the GET's report
    plus ``digest_findings``. A digest whose signature does not hold (or, with
    LIFELINE_SIGNING_KEY_FILE readable by the API, that another key signed) is a 422 problem."""
    document = read_digest(digest.model_dump(), configured_key_id(get_settings().signing_key_file))
    with session_scope(engine, write=False) as session:
        report = verify(session, now, case_id=case_id, since=since)
        findings = check_against_digest(session, document)
    return DigestVerifyView.model_validate(
        {**report.to_dict(), "digest_findings": [finding.to_dict() for finding in findings]}
    )
