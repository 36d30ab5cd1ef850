"""What each agent action does, one handler per action, looked up in ``HANDLERS``.

The state machine (``transitions.TRANSITIONS``) is checked before any handler runs; a handler raises
``InvalidAction`` for arguments that make no sense (an unknown priority, escalating past the last
stage), naming the argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from policies.model import Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.conditions import parse_instant
from sla_engine.deadlines import refresh, settle_all
from sla_engine.events import AgentAction, EngineEvent
from sla_engine.frozen import replace
from sla_engine.kinds import ActionName, EventKind, Status
from sla_engine.policy_actions import Cause, change_priority, enter_stage
from sla_engine.priority import decide_priority
from sla_engine.state import CaseState
from sla_engine.status_effects import action_effects, change_status
from sla_engine.transitions import next_status

Events = list[EngineEvent]
Handler = Callable[[Policy, BusinessCalendar, CaseState, AgentAction], tuple[CaseState, Events]]


class InvalidAction(ValueError):
    """An action whose arguments cannot apply to this case; ``field`` names the offending argument."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


#: The marker event of a status action that leaves the status as it is (see transitions).
_IN_PLACE = {
    ActionName.ACKNOWLEDGE: EventKind.ACKNOWLEDGED,
    ActionName.CREATOR_REPLIED: EventKind.CREATOR_REPLIED,
}
#: The longest ``until`` a request_info may set, counted from the request.
MAX_PAUSE = timedelta(days=366)
MAX_MESSAGE = 5000


def _message(action: AgentAction, required: bool) -> dict[str, str]:
    """The ``message`` argument (1-5000 characters) as event data; ``{}`` when optional and absent."""
    text = action.args.get("message")
    if text is None and not required:
        return {}
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
        raise InvalidAction(f"{action.name} needs a 'message' of 1 to {MAX_MESSAGE} characters", "message")
    return {"message": text}


def _pause_until(action: AgentAction) -> datetime | None:
    """request_info's optional ``until``: an ISO 8601 instant with offset, after the request."""
    raw = action.args.get("until")
    if raw is None or action.name is not ActionName.REQUEST_INFO:
        return None
    until = parse_instant(raw) if isinstance(raw, str) else None
    if until is None:
        raise InvalidAction("until must be an ISO 8601 date-time with an offset (...T09:00:00Z)", "until")
    if not action.at < until <= action.at + MAX_PAUSE:
        raise InvalidAction(
            f"until must be after the request ({action.at.isoformat()}) and within {MAX_PAUSE.days} days",
            "until",
        )
    return until


def _status_action(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    new = next_status(state.status, action.name)
    until = _pause_until(action)
    message = _message(action, required=False) if action.name is ActionName.CREATOR_REPLIED else {}
    if new is state.status:
        # A marker (acknowledge while in progress, a creator message): clocks react in ``handle``.
        event = EngineEvent(_IN_PLACE[action.name], action.at, action.actor, {"status": str(new), **message})
        return replace(state, updated_at=action.at), [event]
    state, events = change_status(policy, calendar, state, new, action.at, action.actor, str(action.name))
    if until is not None:
        state = refresh(policy, replace(state, pause_until=until), calendar)
        events[0] = replace(events[0], data={**events[0].data, "until": until.isoformat()})
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
    if message and events:  # the creator's words resuming the case, for their conversation
        events[0] = replace(events[0], data={**events[0].data, **message})
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


def _reply(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    """A public message to the creator: event ``replied``, no status change (clocks may name it)."""
    event = EngineEvent(EventKind.REPLIED, action.at, action.actor, _message(action, required=True))
    return replace(state, updated_at=action.at), [event]


def _merge_into(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    """End the case as ``merged``: every clock and the stage timer stop as on close. Which case
    survives is the services' business (they check it exists); the engine records its id."""
    survivor = action.args.get("case_id")
    if not isinstance(survivor, str) or not survivor:
        raise InvalidAction("merge_into needs the surviving case's 'case_id'", "case_id")
    state, events = change_status(
        policy, calendar, state, Status.MERGED, action.at, action.actor, "merge_into"
    )
    first = events[0]
    events[0] = replace(first, data={**first.data, "into": survivor})
    return replace(state, closed_at=action.at), events


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
    ActionName.CREATOR_REPLIED: _status_action,
    ActionName.RESOLVE: _status_action,
    ActionName.REOPEN: _status_action,
    ActionName.CLOSE: _status_action,
    ActionName.ASSIGN: _assign,
    ActionName.NOTE: _note,
    ActionName.ESCALATE: _escalate,
    ActionName.SET_PRIORITY: _set_priority,
    ActionName.UPDATE_ATTRIBUTES: _update_attributes,
    ActionName.REPLY: _reply,
    ActionName.MERGE_INTO: _merge_into,
}


def handle(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction
) -> tuple[CaseState, Events]:
    """Apply ``action`` (already advanced to its instant); checks the state machine first."""
    before = state.status
    next_status(state.status, action.name)
    state, events = HANDLERS[action.name](policy, calendar, state, action)
    if state.status is before:  # status moves apply the clocks' triggers in change_status
        state, more = action_effects(policy, calendar, state, str(action.name), action.at, action.actor)
        events.extend(more)
    # The first event of an action records the request itself, so an auditor replays it verbatim.
    request = {"action": str(action.name), "args": dict(action.args)}
    events[0] = replace(events[0], data={**events[0].data, "request": request})
    return replace(state, updated_at=max(state.updated_at, action.at)), events
