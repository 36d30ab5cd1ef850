"""A policy's lifecycle over HTTP (admins): retire it, and migrate its open cases to another version.
The services are casework.registry.policy_lifecycle and casework.migration.policy_migration, shared
with ``lifeline policies retire`` and ``lifeline policies migrate``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from api.bodies import BulkCase
from api.checked_input import CheckedRoute
from api.deps import PROBLEMS, EngineDep, NowDep, PolicyAuthor, PolicyId
from api.listing import BulkFilter, case_filters
from api.retry_keys import RetryKey, json_answer, run_once
from casework.bulk.runner import MAX_CASES, Target
from casework.migration import policy_migration
from casework.migration.policy_migration import MigrationRequest
from casework.queries.case_queries import CaseFilters
from casework.registry.policy_lifecycle import retire_policy
from models.db import session_scope
from sla_engine.migration import MigrationMode

router = APIRouter(prefix="/v1/policies", tags=["policies"], route_class=CheckedRoute)

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such registered policy or version"}}


class RetireAnswer(BaseModel):
    policy_id: str
    retired_at: datetime
    changed: bool = Field(description="False when it was already retired (the first instant is kept)")
    open_cases: int = Field(description="Open cases that keep the policy and keep escalating")


@router.post(
    "/{policy_id}/retire",
    response_model=RetireAnswer,
    summary="Retire a policy",
    responses={**PROBLEMS, **NOT_FOUND},
)
def retire(policy_id: PolicyId, holder: PolicyAuthor, engine: EngineDep, now: NowDep) -> RetireAnswer:
    """No new case opens under the policy from now on (POST /v1/cases answers 409 naming it); its
    open cases keep their pinned version and keep escalating. Retiring twice changes nothing."""
    with session_scope(engine) as session:
        done = retire_policy(session, policy_id, now)
    return RetireAnswer(
        policy_id=done.policy_id, retired_at=done.retired_at, changed=done.changed, open_cases=done.open_cases
    )


class MigrationBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"to": 3, "mode": "rebase", "dry_run": True},
                {"to": 3, "mode": "recompute", "where": {"queue": "creator-support", "priority": "P1"}},
            ]
        },
    )

    to: StrictInt | StrictStr = Field(description="The version to move to: 3, or 'policy-id:3'")
    mode: MigrationMode = MigrationMode.KEEP
    where: BulkFilter | None = Field(None, description="As GET /v1/cases filters; only open cases migrate")
    cases: Annotated[list[BulkCase], Field(min_length=1, max_length=MAX_CASES)] | None = None
    dry_run: bool = False

    @model_validator(mode="after")
    def _one_selection(self) -> MigrationBody:
        if self.where is not None and self.cases is not None:
            raise ValueError("give 'where' or 'cases' (a list of {id, version}), not both")
        return self


class MigrationResult(BaseModel):
    case_id: str
    result: str = Field(description="migrated, unchanged, stale, forbidden, invalid or not_found")
    version: int | None = None
    detail: str | None = None
    from_: int | None = Field(None, alias="from")
    to: int | None = None
    before: dict[str, Any] | None = Field(
        None, description="Deadlines before: clocks, stage, next_deadline_at"
    )
    after: dict[str, Any] | None = None


class MigrationAnswer(BaseModel):
    policy_id: str
    to: int
    mode: str
    dry_run: bool
    total: int
    counts: dict[str, int]
    results: list[MigrationResult]


@router.post(
    "/{policy_id}/migrations",
    response_model=MigrationAnswer,
    response_model_by_alias=True,
    summary="Migrate open cases to another version",
    responses={
        **PROBLEMS,
        **NOT_FOUND,
        409: {"description": "A concurrent request used the same Idempotency-Key"},
    },
)
def migrate_cases(
    policy_id: PolicyId,
    body: Annotated[MigrationBody, Body()],
    holder: PolicyAuthor,
    engine: EngineDep,
    now: NowDep,
    request: Request,
    idempotency_key: RetryKey = None,
) -> Response:
    """Move the open cases of the policy (all, those ``where`` selects, or the listed ``cases``
    with the versions you saw) to version ``to``: ``rebase`` keeps every clock's and the stage's
    working time and applies the new targets, ``recompute`` replays each case's history under the
    new version, ``keep`` leaves them pinned. Each case is its own transaction and writes one
    ``policy_migrated`` event (its deadlines before and after). ``dry_run`` answers the same list
    and writes nothing. A real run retried with the same ``Idempotency-Key`` and body answers the
    first run's result (``Idempotent-Replayed: true``) instead of migrating again."""
    version = policy_migration.parse_target(policy_id, body.to)
    migration = MigrationRequest(policy_id, version, body.mode, holder.actor, body.dry_run)
    with session_scope(engine, write=False) as session:
        policy_migration.target_version(session, policy_id, version)  # 404 before selecting anything

    def run() -> dict[str, Any]:
        if body.cases is not None:
            targets = [Target(c.id, c.version) for c in body.cases]
        else:
            filters = case_filters(body.where, holder.actor) if body.where is not None else CaseFilters()
            with engine.connect() as connection, connection.begin():
                targets = policy_migration.select_cases(connection, policy_id, filters)
        answer = policy_migration.run_migration(engine, migration, targets, request.app.state.clock)
        return MigrationAnswer.model_validate(answer).model_dump(mode="json", by_alias=True)

    asked = {"policy_id": policy_id, "migration": body.model_dump(mode="json", exclude_none=True)}
    answer, replayed = run_once(engine, holder.id, idempotency_key, asked, now, run, record=not body.dry_run)
    return json_answer(MigrationAnswer.model_validate(answer).model_dump_json(by_alias=True), replayed)
