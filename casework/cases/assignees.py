"""``me`` as an assignee: ``assign {"assignee": "me"}`` assigns the case to whoever acts, and
``GET /v1/cases?assignee=me`` lists the caller's cases. An actor is ``<role>:<name>`` (the API
key's name); its name is what ``assignee`` holds. ``me`` is resolved before the engine runs, so the
recorded request names the agent and a replay needs no caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sla_engine.kinds import ActionName

ME = "me"


def actor_name(actor: str) -> str:
    """``ana`` for ``agent:ana`` (an actor without a role is its own name)."""
    return actor.split(":", 1)[-1]


def resolve_me(name: ActionName, args: Mapping[str, Any], actor: str) -> Mapping[str, Any]:
    """``args`` with ``assignee: "me"`` of an ``assign`` replaced by the actor's name."""
    if name is ActionName.ASSIGN and args.get("assignee") == ME:
        return {**args, "assignee": actor_name(actor)}
    return args


def listing_assignee(assignee: str | None, actor: str) -> str | None:
    """A listing's ``assignee`` filter with ``me`` meaning the caller."""
    return actor_name(actor) if assignee == ME else assignee
