"""Known agents and queues: the values ``assign`` accepts, so clients (and the console) offer
choices instead of free text (casework.cases.assignees says where each comes from)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.checked_input import CheckedRoute
from api.deps import PROBLEMS, EngineDep, Reader
from casework.cases import assignees
from models.db import session_scope

router = APIRouter(prefix="/v1", tags=["cases"], route_class=CheckedRoute)


class AgentView(BaseModel):
    name: str = Field(description="An active agent key's name: what `assignee` holds")


class AgentList(BaseModel):
    items: list[AgentView]


class QueueView(BaseModel):
    name: str
    policies: list[str] = Field(description="The registered policies (any version) that name this queue")
    in_queues_file: bool = Field(description="Listed in the deployment's queues file (LIFELINE_QUEUES_FILE)")


class QueueList(BaseModel):
    items: list[QueueView]


@router.get("/agents", response_model=AgentList, summary="Known agents", responses=PROBLEMS)
def list_agents(holder: Reader, engine: EngineDep) -> AgentList:
    """The names `assign` accepts as `assignee` (besides `me`): the active agent keys', sorted."""
    with session_scope(engine, write=False) as session:
        names = assignees.known_agents(session)
    return AgentList(items=[AgentView(name=name) for name in names])


@router.get("/queues", response_model=QueueList, summary="Known queues", responses=PROBLEMS)
def list_queues(holder: Reader, engine: EngineDep) -> QueueList:
    """The queues `assign` accepts as `queue`: those the registered policies name, plus the queues
    file's, sorted by name."""
    with session_scope(engine, write=False) as session:
        queues = assignees.known_queues(session)
    return QueueList(
        items=[
            QueueView(name=q.name, policies=list(q.policies), in_queues_file=q.in_queues_file) for q in queues
        ]
    )
