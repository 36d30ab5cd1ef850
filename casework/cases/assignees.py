"""Who and where a case may be assigned: known agents and known queues, and ``me``.

- Agents are the names of the active (not revoked) API keys with role ``agent``: the only role that
  works cases. ``assign`` takes one of them, ``me`` or null (unassign); anything else is
  UnknownAgent listing them. A revoked agent's cases keep their assignee (history is not
  rewritten), but no new case can be assigned to them.
- Queues are those the registered policies name (every version's stage queues and ``assign_queue``
  actions: an older version's open cases still live there) plus the queues file
  (``LIFELINE_QUEUES_FILE``, policies/queues.py). ``assign`` with another ``queue`` is UnknownQueue.
- ``me``: an actor is ``<role>:<name>`` (the API key's name); its name is what ``assignee`` holds.
  ``me`` is resolved before the engine runs, so the recorded request names the agent and a replay
  needs no caller (nor the keys: the check is the service's, never the engine's). ``GET
  /v1/cases?assignee=me`` lists the caller's cases.

Listing filters (``GET /v1/cases?assignee=...&queue=...``) are not checked: a revoked agent's or a
retired queue's cases must stay findable, and an unknown name simply matches nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from casework.errors import QueuesFileUnreadable, UnknownAgent, UnknownQueue
from casework.registry import policy_registry
from casework.settings import get_settings
from models.kinds import Role
from models.tables import ApiKey, PolicyVersion
from policies.diagnostics import PolicyError
from policies.model import ActionKind, Policy
from policies.queues import load_queues
from sla_engine.kinds import ActionName

ME = "me"

_file_cache: dict[tuple[Path, int, int], tuple[str, ...]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class KnownQueue:
    """A queue and where it is known from: the policies naming it, and/or the queues file."""

    name: str
    policies: tuple[str, ...]
    in_queues_file: bool


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


def known_agents(session: Session) -> list[str]:
    """The names ``assign`` accepts (besides ``me``), sorted."""
    query = select(ApiKey.name).where(ApiKey.role == Role.AGENT, col(ApiKey.revoked_at).is_(None))
    return sorted(set(session.exec(query).all()))


def _is_agent(session: Session, name: str) -> bool:
    query = select(ApiKey.id).where(
        ApiKey.name == name, ApiKey.role == Role.AGENT, col(ApiKey.revoked_at).is_(None)
    )
    return session.exec(query.limit(1)).first() is not None


def policy_queues(policy: Policy) -> set[str]:
    """Every queue ``policy`` can put a case in: its stages' and its ``assign_queue`` actions'."""
    actions = [a for stage in policy.stages for a in (*stage.on_enter, *stage.on_breach)]
    actions += [a for clock in policy.clocks for a in (*clock.on_breach, *clock.on_warn)]
    named = {a.value for a in actions if a.kind is ActionKind.ASSIGN_QUEUE}
    return named | {stage.queue for stage in policy.stages}


def file_queues() -> tuple[str, ...]:
    """The queues of LIFELINE_QUEUES_FILE (none when unset), read again when the file changes."""
    path = get_settings().queues_file
    if path is None:
        return ()
    try:
        stat = path.stat()
    except OSError as err:
        raise QueuesFileUnreadable(f"LIFELINE_QUEUES_FILE {path}: {err.strerror or err}") from None
    key = (path, stat.st_mtime_ns, stat.st_size)
    found = _file_cache.get(key)
    if found is None:
        try:
            found = load_queues(path)
        except PolicyError as err:
            raise QueuesFileUnreadable(f"LIFELINE_QUEUES_FILE: {err}") from None
        with _lock:
            _file_cache.clear()
            _file_cache[key] = found
    return found


def known_queues(session: Session) -> list[KnownQueue]:
    """Every queue ``assign`` accepts, by name, with where it is known from."""
    named: dict[str, set[str]] = {}
    versions = session.exec(select(PolicyVersion.policy_id, PolicyVersion.version, PolicyVersion.sha256))
    for policy_id, version, sha in versions.all():
        policy, _calendar = policy_registry.get_policy(session, policy_id, version, sha256=sha)
        for queue in policy_queues(policy):
            named.setdefault(queue, set()).add(policy_id)
    listed = set(file_queues())
    return [
        KnownQueue(name, tuple(sorted(named.get(name, ()))), name in listed)
        for name in sorted(named.keys() | listed)
    ]


def check_arguments(
    session: Session, name: ActionName, args: Mapping[str, Any], actor: str
) -> Mapping[str, Any]:
    """``args`` of action ``name`` with ``me`` resolved; for ``assign``, UnknownAgent when the
    assignee is not a known agent and UnknownQueue when the queue is not a known queue (arguments
    of the wrong type are left to the engine, which names them)."""
    args = resolve_me(name, args, actor)
    if name is not ActionName.ASSIGN:
        return args
    assignee = args.get("assignee")
    if isinstance(assignee, str) and not _is_agent(session, assignee):
        raise UnknownAgent("assignee", assignee, known_agents(session))
    queue = args.get("queue")
    if isinstance(queue, str) and queue:
        queues = [q.name for q in known_queues(session)]
        if queue not in queues:
            raise UnknownQueue("queue", queue, queues)
    return args
