"""Events as values: what the engine says happened, for the caller to store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sla_engine.kinds import ActionName, EventKind
from sla_engine.state import CaseState


@dataclass(frozen=True)
class EngineEvent:
    """One entry of a case's history.

    ``at`` is when it took effect (for a timed event, its deadline, however late it was computed).
    ``dedupe_key`` is set on every event a timer produced, and on the actions it triggered: the same
    key can be stored only once per case, which is what makes escalation exactly-once. ``data`` is
    JSON-ready; it names the ``clock`` or the ``stage`` an event is about.
    """

    kind: EventKind
    at: datetime
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)
    dedupe_key: str | None = None


@dataclass(frozen=True)
class AgentAction:
    """An agent's action on a case at instant ``at``; ``args`` holds the action's arguments
    (``assignee``, ``priority``, ``text``, ``attributes``, ``reason``...)."""

    name: ActionName
    at: datetime
    actor: str
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """The result of one engine call: the case's new state and the events that led to it, in order."""

    state: CaseState
    events: Sequence[EngineEvent]
