"""Reading the agent actions back out of a case's recorded history, for the auditor's replay.

The services store events, not the actions that caused them, so each action is recognised by the
events it writes (sla_engine.agent_actions): an agent's event of a *leading* kind starts an action,
and the events that action always writes after it (its *followers*, same actor and instant) are
folded into it:

=====================  ===================================  ==================================
leading event          action and arguments                 followers
=====================  ===================================  ==================================
status_changed         ``data.action`` (+ ``data.reason``)  clock_stopped, paused, resumed
assigned               assign ``assignee = data.to``        one queue_changed (``queue``)
queue_changed          assign ``queue = data.to``           -
note_added             note ``text``                        -
escalated              escalate ``to_stage = data.to``,     - (on_enter effects are the
                       ``reason = data.reason``               system's, never the agent's)
priority_changed       set_priority ``priority = data.to``  -
                       (``reason = data.reason``)
attributes_changed     update_attributes ``data.changed``   one priority_changed
=====================  ===================================  ==================================

Two gaps in what is recorded (docs/auditing.md): a ``set_priority`` to the priority the case already
has writes no event, yet pins the priority (the override) for later attribute changes; and clearing
the override (``set_priority`` with null) writes a ``priority_changed`` that differs from an
explicit one only by its reason. The second is flagged here (``maybe_clear``) and decided by the
replay, which knows what the rules would say at that instant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from models.tables import CaseEvent
from sla_engine.events import AgentAction
from sla_engine.kinds import SYSTEM_ACTOR, ActionName, EventKind

#: Events written by the notification delivery flow: not part of the engine's history.
DELIVERY_KINDS = frozenset({EventKind.NOTIFICATION_DELIVERED, EventKind.NOTIFICATION_FAILED})

#: The reasons decide_priority gives; a priority_changed by an agent with such a reason may be a
#: cleared override (set_priority null) rather than an explicit priority.
_RULE_REASON = re.compile(r"policy default|rule \d+(: .*)?", re.DOTALL)

_STATUS_FOLLOWERS = frozenset({EventKind.CLOCK_STOPPED, EventKind.PAUSED, EventKind.RESUMED})
_ONE_FOLLOWER = {
    EventKind.ASSIGNED: EventKind.QUEUE_CHANGED,
    EventKind.ATTRIBUTES_CHANGED: EventKind.PRIORITY_CHANGED,
}


class UnreadableAction(ValueError):
    """An agent's event that no action writes in that shape (tampered, or an unknown kind)."""

    def __init__(self, seq: int, detail: str) -> None:
        super().__init__(detail)
        self.seq = seq


@dataclass(frozen=True)
class RecordedAction:
    """An agent action read from the history: ``seq`` is its first event's."""

    action: AgentAction
    seq: int
    #: A priority_changed whose reason is a rule's: it may have been set_priority null.
    maybe_clear: bool = False


def is_engine_event(event: CaseEvent) -> bool:
    """Events the engine wrote (everything except the delivery flow's records)."""
    return event.kind not in DELIVERY_KINDS


def is_agent_event(event: CaseEvent) -> bool:
    return event.actor != SYSTEM_ACTOR and event.kind is not EventKind.OPENED and is_engine_event(event)


def recorded_actions(events: Iterable[CaseEvent]) -> list[RecordedAction]:
    """The agent actions of a case's history (events in seq order), in order.

    Raises UnreadableAction naming the seq of an agent event no action writes."""
    actions: list[RecordedAction] = []
    current: CaseEvent | None = None
    followers: frozenset[EventKind] = frozenset()
    for event in events:
        if not is_agent_event(event):
            continue
        if current is not None and _follows(current, event, followers):
            if event.kind is EventKind.QUEUE_CHANGED:
                actions[-1] = _with_queue(actions[-1], event)
            followers = _STATUS_FOLLOWERS if current.kind is EventKind.STATUS_CHANGED else frozenset()
            continue
        actions.append(_start(event))
        current = event
        followers = _followers_of(event)
    return actions


def _followers_of(event: CaseEvent) -> frozenset[EventKind]:
    if event.kind is EventKind.STATUS_CHANGED:
        return _STATUS_FOLLOWERS
    one = _ONE_FOLLOWER.get(event.kind)
    return frozenset({one}) if one is not None else frozenset()


def _follows(leader: CaseEvent, event: CaseEvent, followers: frozenset[EventKind]) -> bool:
    return (
        event.kind in followers
        and event.actor == leader.actor
        and event.at == leader.at
        and event.recorded_at == leader.recorded_at
    )


def _with_queue(recorded: RecordedAction, event: CaseEvent) -> RecordedAction:
    action = recorded.action
    args = {**action.args, "queue": event.data.get("to")}
    return RecordedAction(AgentAction(action.name, action.at, action.actor, args), recorded.seq)


def _start(event: CaseEvent) -> RecordedAction:
    data = event.data
    name, args = _name_and_args(event, data)
    maybe_clear = name is ActionName.SET_PRIORITY and bool(
        _RULE_REASON.fullmatch(str(data.get("reason", "")))
    )
    return RecordedAction(AgentAction(name, event.at, event.actor, args), event.seq, maybe_clear)


def _name_and_args(event: CaseEvent, data: dict[str, Any]) -> tuple[ActionName, dict[str, Any]]:
    kind = event.kind
    if kind is EventKind.STATUS_CHANGED:
        try:
            name = ActionName(str(data.get("action")))
        except ValueError:
            detail = f"status_changed names no known action: {data.get('action')!r}"
            raise UnreadableAction(event.seq, detail) from None
        return name, ({"reason": data["reason"]} if data.get("reason") else {})
    if kind is EventKind.ASSIGNED:
        return ActionName.ASSIGN, {"assignee": data.get("to")}
    if kind is EventKind.QUEUE_CHANGED:
        return ActionName.ASSIGN, {"queue": data.get("to")}
    if kind is EventKind.NOTE_ADDED:
        return ActionName.NOTE, {"text": data.get("text")}
    if kind is EventKind.ESCALATED:
        return ActionName.ESCALATE, {"to_stage": data.get("to"), "reason": data.get("reason")}
    if kind is EventKind.PRIORITY_CHANGED:
        return ActionName.SET_PRIORITY, {"priority": data.get("to"), "reason": data.get("reason")}
    if kind is EventKind.ATTRIBUTES_CHANGED:
        return ActionName.UPDATE_ATTRIBUTES, {"attributes": data.get("changed")}
    raise UnreadableAction(
        event.seq, f"an agent ({event.actor}) recorded a {kind} event, which no action writes"
    )


def engine_events(events: Sequence[CaseEvent]) -> list[CaseEvent]:
    return [e for e in events if is_engine_event(e)]
