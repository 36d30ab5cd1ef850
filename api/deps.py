"""What routes declare in their signatures: the engine, the request's instant, who may call, and
the parameters several routers share. Routes import these from here and from nowhere else, so a
router never borrows from another.

``EngineDep`` and ``NowDep`` read ``app.state`` (``create_app(engine, clock=...)``): tests inject
both. The role dependencies authenticate the bearer key and admit only their roles (``api.auth``);
a route names the one it needs even when it does not read the holder.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy import Engine

from api.auth import require
from api.problems import validation_problem
from casework.api_keys import KeyHolder
from models.kinds import Role


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_now(request: Request) -> datetime:
    """The request's instant from the app's injected clock (tests replace ``app.state.clock``)."""
    now: datetime = request.app.state.clock()
    return now


EngineDep = Annotated[Engine, Depends(get_engine)]
NowDep = Annotated[datetime, Depends(get_now)]

#: Every role reads cases, events, breaches and policies.
Reader = Annotated[KeyHolder, Depends(require(Role.ADMIN, Role.AGENT, Role.AUDITOR))]
#: Agents open and work cases.
CaseWriter = Annotated[KeyHolder, Depends(require(Role.AGENT))]
#: Admins validate and register policies.
PolicyAuthor = Annotated[KeyHolder, Depends(require(Role.ADMIN))]
#: Admins and agents preview policies.
Simulator = Annotated[KeyHolder, Depends(require(Role.ADMIN, Role.AGENT))]
#: Reports and audits are for auditors (and admins, who read everything).
AuditReader = Annotated[KeyHolder, Depends(require(Role.ADMIN, Role.AUDITOR))]

CaseId = Annotated[str, Path(max_length=40, description="A case id, e.g. cs_01J...")]
PolicyId = Annotated[str, Path(max_length=100, description="A policy id, e.g. account-compromised")]

#: The problems every authenticated route may answer, for /docs (``responses=``).
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No key, or an unknown or revoked key"},
    403: {"description": "The key's role may not use this route"},
    422: {"description": "Invalid input; `errors` lists JSON pointers"},
}


def check_period(start: datetime, end: datetime) -> None:
    """A period's ``from`` must be before its ``to`` (422 naming ``from`` otherwise)."""
    if start >= end:
        raise validation_problem(
            [{"parameter": "from", "in": "query", "message": "'from' must be before 'to'"}]
        )
