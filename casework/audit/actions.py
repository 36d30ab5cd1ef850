"""Reading the agent actions back out of a case's recorded history, for the auditor's replay.

The engine records each agent action verbatim in the data of the first event it writes:
``data.request = {"action": name, "args": {...}}``. The replay feeds exactly those requests back to
the engine, so nothing is inferred from the events' shapes. The action's other events (a status
change's clock_stopped, paused and resumed; an attribute change's priority_changed) carry no
request: they must follow their action at the same instant, by the same actor, in the same write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from casework.errors import UnreadableAction
from models.tables import CaseEvent
from sla_engine.events import AgentAction
from sla_engine.kinds import SYSTEM_ACTOR, ActionName, EventKind

#: Events written by the notification delivery flow (and the creator link's rotation): not part of
#: the engine's history.
DELIVERY_KINDS = frozenset(
    {
        EventKind.NOTIFICATION_DELIVERED,
        EventKind.NOTIFICATION_FAILED,
        EventKind.CREATOR_LINK_ROTATED,
        EventKind.NOTIFICATION_REDELIVERED,
    }
)
#: Events the services write about a case's relations to other cases (casework.links): no state change.
RELATION_KINDS = frozenset({EventKind.LINKED, EventKind.UNLINKED, EventKind.MERGED})


@dataclass(frozen=True)
class RecordedAction:
    """An agent action read from the history: ``seq`` is its first event's."""

    action: AgentAction
    seq: int


@dataclass(frozen=True)
class RecordedMigration:
    """A ``policy_migrated`` event: the case moved ``from`` -> ``to`` by ``mode`` at ``event.at``."""

    event: CaseEvent

    @property
    def seq(self) -> int:
        return self.event.seq


def is_engine_event(event: CaseEvent) -> bool:
    """Events the engine wrote (everything except the delivery flow's and the links' records)."""
    return event.kind not in DELIVERY_KINDS and event.kind not in RELATION_KINDS


def is_agent_event(event: CaseEvent) -> bool:
    return event.actor != SYSTEM_ACTOR and event.kind is not EventKind.OPENED and is_engine_event(event)


def recorded_actions(events: Iterable[CaseEvent]) -> list[RecordedAction]:
    """The agent actions of a case's history (events in seq order), in order (what a recompute
    replays under a new policy version)."""
    return [step for step in recorded_steps(events) if isinstance(step, RecordedAction)]


def recorded_steps(events: Iterable[CaseEvent]) -> list[RecordedAction | RecordedMigration]:
    """The agent actions and policy migrations of a case's history (events in seq order), in order.

    Raises UnreadableAction naming the seq of an agent event that neither records a request nor
    follows one (tampered, or written by something other than the engine)."""
    actions: list[RecordedAction | RecordedMigration] = []
    leader: CaseEvent | None = None
    for event in events:
        if event.kind is EventKind.OPENED:
            leader = event  # a case opened waiting on the creator: its pauses follow the opening
            continue
        if event.kind is EventKind.POLICY_MIGRATED:
            actions.append(RecordedMigration(event))
            leader = None
            continue
        if not is_agent_event(event):
            continue
        request = event.data.get("request")
        if isinstance(request, Mapping):
            actions.append(_start(event, request))
            leader = event
        elif leader is None or not _follows(leader, event):
            detail = f"an agent ({event.actor}) recorded a {event.kind} event that belongs to no action"
            raise UnreadableAction(event.seq, detail)
    return actions


def _follows(leader: CaseEvent, event: CaseEvent) -> bool:
    return event.actor == leader.actor and event.at == leader.at and event.recorded_at == leader.recorded_at


def _start(event: CaseEvent, request: Mapping[str, Any]) -> RecordedAction:
    try:
        name = ActionName(str(request.get("action")))
    except ValueError:
        raise UnreadableAction(
            event.seq, f"unknown action {request.get('action')!r} in the request"
        ) from None
    args = request.get("args")
    if not isinstance(args, Mapping):
        raise UnreadableAction(event.seq, "the recorded request has no arguments object")
    return RecordedAction(AgentAction(name, event.at, event.actor, dict(args)), event.seq)


def engine_events(events: Sequence[CaseEvent]) -> list[CaseEvent]:
    return [e for e in events if is_engine_event(e)]
