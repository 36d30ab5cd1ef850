"""What each agent action does, one handler per action, looked up in ``HANDLERS``.

The state machine (``transitions.TRANSITIONS``) is checked before any handler runs; a handler raises
``InvalidAction`` for arguments that make no sense (an unknown priority, escalating past the last
stage), naming the argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from policies.model import Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.deadlines import refresh, settle_all
from sla_engine.events import AgentAction, EngineEvent
from sla_engine.kinds import ActionName, EventKind, Status
from sla_engine.policy_actions import Cause, change_priority, enter_stage
from sla_engine.priority import decide_priority
from sla_engine.state import CaseState
from sla_engine.status_effects import change_status
from sla_engine.transitions import ForbiddenTransition, next_status

Events = list[EngineEvent]
Handler = Callable[[Policy, BusinessCalendar, CaseState, AgentAction], tuple[CaseState, Events]]


class InvalidAction(ValueError):
    """An action whose arguments cannot apply to this case; ``field`` names the offending argument."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _status_action(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    new = next_status(state.status, action.name)
    state, events = change_status(policy, calendar, state, new, action.at, action.actor, str(action.name))
    if new is Status.RESOLVED:
        state = replace(state, resolved_at=action.at)
    elif new is Status.CLOSED:
        state = replace(state, closed_at=action.at)
    elif action.name is ActionName.REOPEN:
        state = replace(state, resolved_at=None)
    reason = action.args.get("reason")
    if reason and events:
        first = events[0]
        events[0] = replace(first, data={**first.data, "reason": str(reason)})
    return state, events


def _assign(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    events: Events = []
    if "assignee" in action.args:
        assignee = action.args["assignee"]
        if assignee is not None and not isinstance(assignee, str):
            raise InvalidAction("assignee must be a string or null", "assignee")
        events.append(
            EngineEvent(EventKind.ASSIGNED, action.at, action.actor, {"from": state.assignee, "to": assignee})
        )
        state = replace(state, assignee=assignee)
    if "queue" in action.args:
        queue = action.args["queue"]
        if not isinstance(queue, str) or not queue:
            raise InvalidAction("queue must be a non-empty string", "queue")
        events.append(
            EngineEvent(EventKind.QUEUE_CHANGED, action.at, action.actor, {"from": state.queue, "to": queue})
        )
        state = replace(state, queue=queue)
    if not events:
        raise InvalidAction("assign needs an 'assignee' (or null to unassign) or a 'queue'", "assignee")
    return replace(state, updated_at=action.at), events


def _note(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    text = action.args.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidAction("note needs a non-empty 'text'", "text")
    return replace(state, updated_at=action.at), [
        EngineEvent(EventKind.NOTE_ADDED, action.at, action.actor, {"text": text})
    ]


#: The longest public message (an agent's reply or the creator's), in characters.
MAX_MESSAGE = 5000


def _message(action: AgentAction) -> str:
    """The action's ``message``: 1 to MAX_MESSAGE characters, not only blanks."""
    text = action.args.get("message")
    if not isinstance(text, str) or not text.strip():
        raise InvalidAction(f"{action.name} needs a non-empty 'message'", "message")
    if len(text) > MAX_MESSAGE:
        raise InvalidAction(f"'message' is longer than {MAX_MESSAGE} characters", "message")
    return text


def _reply(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    """A public message to the creator (shown on their status page); no status change."""
    event = EngineEvent(EventKind.REPLIED, action.at, action.actor, {"message": _message(action)})
    return replace(state, updated_at=action.at), [event]


def _creator_replied(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    """The creator answered. With a ``message`` it is recorded (event ``creator_replied``); a case
    waiting on the creator resumes (``in_progress``). Elsewhere only a message makes sense: without
    one the action is refused as the state machine refuses it (409)."""
    events: Events = []
    if "message" in action.args:
        data = {"message": _message(action)}
        events.append(EngineEvent(EventKind.CREATOR_REPLIED, action.at, action.actor, data))
    if state.status is Status.WAITING_ON_CREATOR:
        state, more = _status_action(policy, calendar, state, action)
        return state, events + more
    if not events:
        raise ForbiddenTransition(action.name, state.status)
    return replace(state, updated_at=action.at), events


def _escalate(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    ids = [s.id for s in policy.stages]
    target = action.args.get("to_stage")
    if target is None:
        index = state.stage.index + 1
        if index >= len(ids):
            raise InvalidAction(f"the case is already at the last stage ({state.stage.id})", "to_stage")
    elif target not in ids:
        raise InvalidAction(f"unknown stage {target!r}; stages: {', '.join(ids)}", "to_stage")
    else:
        index = ids.index(target)
        if index <= state.stage.index:
            raise InvalidAction(
                f"stage {target!r} is not after the current stage {state.stage.id!r}", "to_stage"
            )
    reason = str(action.args.get("reason") or "escalated by hand")
    cause = Cause(f"escalated by {action.actor}", None, {"stage": ids[index]})
    return enter_stage(policy, calendar, state, index, action.at, action.actor, cause, reason)


def known_priorities(policy: Policy) -> frozenset[str]:
    """Priorities every clock and stage has a target for: the ones an agent may set."""
    maps = [c.target for c in policy.clocks] + [s.escalate_after for s in policy.stages if s.escalate_after]
    keyed = [frozenset(t.by_priority) for t in maps if t.single is None]
    if keyed:
        return frozenset.intersection(*keyed)
    return frozenset({policy.priority.default, *(r.then for r in policy.priority.rules)})


def _set_priority(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    if "priority" not in action.args:
        raise InvalidAction(
            "set_priority needs 'priority' (a priority such as P1, or null to clear)", "priority"
        )
    wanted = action.args["priority"]
    if wanted is None:
        priority, reason = decide_priority(policy, state.attributes, action.at)
        return _traced(
            change_priority(policy, calendar, state, priority, reason, None, action.at, action.actor), action
        )
    known = known_priorities(policy)
    if not isinstance(wanted, str) or wanted not in known:
        raise InvalidAction(
            f"unknown priority {wanted!r}; this policy knows {', '.join(sorted(known))}", "priority"
        )
    reason = str(action.args.get("reason") or f"set by {action.actor}")
    return _traced(
        change_priority(policy, calendar, state, wanted, reason, wanted, action.at, action.actor), action
    )


def _traced(result: tuple[CaseState, Events], action: AgentAction) -> tuple[CaseState, Events]:
    """A priority set to the value it already has still pins (or unpins) it against the rules:
    record it as a change from the priority to itself, so every agent action leaves a trace."""
    state, events = result
    if events:
        return result
    data = {"from": state.priority, "to": state.priority, "reason": state.priority_reason}
    return state, [EngineEvent(EventKind.PRIORITY_CHANGED, action.at, action.actor, data)]


def merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7386): nested objects merge, null removes a key."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _update_attributes(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    patch = action.args.get("attributes")
    if not isinstance(patch, Mapping) or not patch:
        raise InvalidAction("update_attributes needs a non-empty 'attributes' object", "attributes")
    state = settle_all(state, action.at, calendar)
    state = replace(state, attributes=merge(state.attributes, patch), updated_at=action.at)
    events: Events = [
        EngineEvent(EventKind.ATTRIBUTES_CHANGED, action.at, action.actor, {"changed": dict(patch)})
    ]
    if state.priority_override is None:
        priority, reason = decide_priority(policy, state.attributes, action.at)
        state, more = change_priority(
            policy, calendar, state, priority, reason, None, action.at, action.actor
        )
        events.extend(more)
    return refresh(policy, state, calendar), events


HANDLERS: dict[ActionName, Handler] = {
    ActionName.ACKNOWLEDGE: _status_action,
    ActionName.START: _status_action,
    ActionName.REQUEST_INFO: _status_action,
    ActionName.CREATOR_REPLIED: _creator_replied,
    ActionName.RESOLVE: _status_action,
    ActionName.REOPEN: _status_action,
    ActionName.CLOSE: _status_action,
    ActionName.ASSIGN: _assign,
    ActionName.NOTE: _note,
    ActionName.REPLY: _reply,
    ActionName.ESCALATE: _escalate,
    ActionName.SET_PRIORITY: _set_priority,
    ActionName.UPDATE_ATTRIBUTES: _update_attributes,
}


def handle(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    """Apply ``action`` (already advanced to its instant); checks the state machine first."""
    next_status(state.status, action.name)
    state, events = HANDLERS[action.name](policy, calendar, state, action)
    # The first event of an action records the request itself, so an auditor replays it verbatim.
    request = {"action": str(action.name), "args": dict(action.args)}
    events[0] = replace(events[0], data={**events[0].data, "request": request})
    return replace(state, updated_at=max(state.updated_at, action.at)), events
