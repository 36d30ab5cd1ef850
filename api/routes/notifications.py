"""Notification recovery for admins: queue dead notifications again (``lifeline notifications
redeliver`` over HTTP). The worker sends them with the same ``notification_id``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import require
from api.deps import PROBLEMS, EngineDep, NowDep
from casework.api_keys import KeyHolder
from casework.history.outbox import redeliver as redeliver_notifications
from models.db import session_scope
from models.kinds import Role

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

#: Only admins redeliver (operators of the deployment).
Admin = Annotated[KeyHolder, Depends(require(Role.ADMIN))]


class RedeliverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: str | None = Field(default=None, max_length=40, description="Only this case's notifications")
    since: AwareDatetime | None = Field(default=None, description="Only notifications queued at or after")


class Redelivered(BaseModel):
    count: int
    notification_ids: list[int] = Field(description="Queued again, oldest first")


@router.post(
    "/redeliver",
    summary="Queue dead notifications again (same notification_id)",
    responses=PROBLEMS,
    response_model=Redelivered,
)
def redeliver(
    holder: Admin,
    engine: EngineDep,
    now: NowDep,
    body: RedeliverRequest | None = None,
) -> Redelivered:
    """Every dead notification (failed after its last attempt, or dropped for want of a channel),
    or only a case's and/or those queued since an instant, becomes pending again; each gets
    ``notification_redelivered`` in its case's history. 404 for an unknown case."""
    request = body or RedeliverRequest()
    with session_scope(engine) as session:
        ids = redeliver_notifications(
            session, now, holder.actor, case_id=request.case_id, since=request.since
        )
    return Redelivered(count=len(ids), notification_ids=ids)
