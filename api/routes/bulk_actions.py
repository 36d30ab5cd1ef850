"""Bulk actions: POST /v1/cases/bulk-actions applies one action to the cases a filter selects or to
a list of (id, version), each case in its own transaction with its own version check, and answers
every case's result (done, stale, forbidden, not_found, invalid). Idempotent by Idempotency-Key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.bodies import BulkCase, CaseAction
from api.checked_input import CheckedRoute
from api.deps import PROBLEMS, CaseWriter, EngineDep, NowDep
from api.listing import BulkFilter, case_filters
from api.problems import unknown_name_problem
from api.retry_keys import RetryKey, json_answer, run_once
from casework.bulk.runner import MAX_CASES, Target, run_bulk, select_targets, summary
from casework.errors import UnknownName

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=CheckedRoute)


class BulkActionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action": {"action": "acknowledge"},
                    "filter": {"queue": "creator-support", "status": ["open"]},
                },
                {
                    "action": {"action": "assign", "assignee": "ana"},
                    "cases": [{"id": "cs_01J...", "version": 3}],
                },
            ]
        },
    )

    action: CaseAction = Field(discriminator="action", description="As POST /v1/cases/{id}/actions takes it")
    filter: BulkFilter | None = None
    cases: Annotated[list[BulkCase], Field(min_length=1, max_length=MAX_CASES)] | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> BulkActionRequest:
        if (self.filter is None) == (self.cases is None):
            raise ValueError("give either 'filter' or 'cases' (a list of {id, version})")
        return self


class BulkResult(BaseModel):
    case_id: str
    result: str = Field(description="done, stale, forbidden, not_found or invalid")
    version: int | None = Field(None, description="The case's new version when done")
    detail: str | None = None


class BulkAnswer(BaseModel):
    action: str
    total: int
    counts: dict[str, int]
    results: list[BulkResult]


@router.post(
    "/bulk-actions",
    response_model=BulkAnswer,
    summary="Act on many cases",
    responses={**PROBLEMS, 409: {"description": "A concurrent request used the same Idempotency-Key"}},
)
def bulk_actions(
    body: Annotated[BulkActionRequest, Body()],
    holder: CaseWriter,
    engine: EngineDep,
    now: NowDep,
    request: Request,
    idempotency_key: RetryKey = None,
) -> Response:
    """One action (``{"action": "acknowledge"}``, ``{"action": "assign", "assignee": ...}``...) on
    the cases ``filter`` selects or on ``cases`` (ids with the versions you saw). Each case is its
    own transaction: the answer says, per case, ``done``, ``stale``, ``forbidden``, ``not_found``
    or ``invalid``; one case's refusal never undoes another's change."""
    payload = body.model_dump(mode="json", exclude_none=True)

    def run() -> dict[str, Any]:
        if body.cases is not None:
            targets = [Target(c.id, c.version) for c in body.cases]
        else:
            assert body.filter is not None
            with engine.connect() as connection, connection.begin():
                targets = select_targets(connection, case_filters(body.filter, holder.actor))
        args = body.action.model_dump(mode="json", exclude_unset=True, exclude={"action"})
        # Each case at the app clock's instant when its turn comes (a long run spans seconds).
        clock = request.app.state.clock
        try:
            results = run_bulk(engine, targets, body.action.action, args, holder.actor, clock)
        except UnknownName as err:  # refused before any case: the pointer is into this body
            raise unknown_name_problem(err, "/action") from None
        return summary(body.action.action, results)

    answer, replayed = run_once(engine, holder.id, idempotency_key, payload, now, run)
    return json_answer(BulkAnswer.model_validate(answer).model_dump_json(), replayed)
