"""The effects a policy can order (notify, set_priority, assign_queue), priority changes and stage moves.

Like python-jsonschema's keyword table: one small function per action kind, each returning the new
state and the events it caused, looked up in ``ACTION_HANDLERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from policies.model import ActionKind, Policy, PolicyAction
from sla_engine.business_time import BusinessCalendar
from sla_engine.deadlines import refresh, settle_all
from sla_engine.events import EngineEvent
from sla_engine.frozen import replace
from sla_engine.kinds import SYSTEM_ACTOR, ClockStatus, EventKind
from sla_engine.state import CaseState, Meter, StageState

Events = list[EngineEvent]


class Cause:
    """Why policy actions run: the event that triggered them, and the dedupe key prefix to give
    their events when the trigger was a timer (None for an agent's manual escalation)."""

    def __init__(self, reason: str, key_prefix: str | None, data: dict[str, Any]) -> None:
        self.reason = reason
        self.key_prefix = key_prefix
        self.data = data

    def key(self, suffix: str) -> str | None:
        return None if self.key_prefix is None else f"{self.key_prefix}/{suffix}"


Handler = Callable[[Policy, BusinessCalendar, CaseState, str, datetime, Cause, int], tuple[CaseState, Events]]


def _notify(
    policy: Policy,
    calendar: BusinessCalendar,
    state: CaseState,
    channel: str,
    at: datetime,
    cause: Cause,
    i: int,
) -> tuple[CaseState, Events]:
    data = {"channel": channel, "reason": cause.reason, "priority": state.priority, **cause.data}
    return state, [
        EngineEvent(EventKind.NOTIFIED, at, SYSTEM_ACTOR, data, cause.key(f"{i}:notify:{channel}"))
    ]


def _set_priority(
    policy: Policy,
    calendar: BusinessCalendar,
    state: CaseState,
    priority: str,
    at: datetime,
    cause: Cause,
    i: int,
) -> tuple[CaseState, Events]:
    return change_priority(
        policy,
        calendar,
        state,
        priority,
        f"set by policy ({cause.reason})",
        priority,
        at,
        SYSTEM_ACTOR,
        cause.key(f"{i}:set_priority"),
    )


def _assign_queue(
    policy: Policy,
    calendar: BusinessCalendar,
    state: CaseState,
    queue: str,
    at: datetime,
    cause: Cause,
    i: int,
) -> tuple[CaseState, Events]:
    if queue == state.queue:
        return state, []
    data = {"from": state.queue, "to": queue, "reason": cause.reason}
    event = EngineEvent(EventKind.QUEUE_CHANGED, at, SYSTEM_ACTOR, data, cause.key(f"{i}:assign_queue"))
    return replace(state, queue=queue, updated_at=at), [event]


ACTION_HANDLERS: dict[ActionKind, Handler] = {
    ActionKind.NOTIFY: _notify,
    ActionKind.SET_PRIORITY: _set_priority,
    ActionKind.ASSIGN_QUEUE: _assign_queue,
}


def run_actions(
    policy: Policy,
    calendar: BusinessCalendar,
    state: CaseState,
    actions: Sequence[PolicyAction],
    at: datetime,
    cause: Cause,
) -> tuple[CaseState, Events]:
    """Run ``actions`` in order at ``at``."""
    events: Events = []
    for i, action in enumerate(actions):
        state, more = ACTION_HANDLERS[action.kind](policy, calendar, state, action.value, at, cause, i)
        events.extend(more)
    return state, events


def change_priority(
    policy: Policy,
    calendar: BusinessCalendar,
    state: CaseState,
    priority: str,
    reason: str,
    override: str | None,
    at: datetime,
    actor: str,
    dedupe_key: str | None = None,
) -> tuple[CaseState, Events]:
    """Switch to ``priority``: targets change, elapsed working time (minus pauses) is kept."""
    if priority == state.priority:
        return replace(state, priority_reason=reason, priority_override=override), []
    state = settle_all(state, at, calendar)
    data = {"from": state.priority, "to": priority, "reason": reason}
    state = replace(
        state, priority=priority, priority_reason=reason, priority_override=override, updated_at=at
    )
    return refresh(policy, state, calendar), [
        EngineEvent(EventKind.PRIORITY_CHANGED, at, actor, data, dedupe_key)
    ]


def enter_stage(
    policy: Policy,
    calendar: BusinessCalendar,
    state: CaseState,
    index: int,
    at: datetime,
    actor: str,
    cause: Cause,
    reason: str,
) -> tuple[CaseState, Events]:
    """Move to stage ``index`` at ``at``: its timer starts from ``at``, its on_enter actions run."""
    spec = policy.stages[index]
    previous = state.stage
    state = settle_all(state, at, calendar)
    running = previous.status is not ClockStatus.PAUSED
    meter = Meter(since=at if running else None)
    stage = StageState(
        index=index,
        id=spec.id,
        entered_at=at,
        status=ClockStatus.RUNNING if running else ClockStatus.PAUSED,
        meter=meter,
        repeat_meter=meter,
    )
    data = {"stage": spec.id, "from": previous.id, "to": spec.id, "reason": reason, "queue": spec.queue}
    event = EngineEvent(EventKind.ESCALATED, at, actor, data, cause.key("escalated"))
    state = replace(state, stage=stage, queue=spec.queue, escalations=state.escalations + 1, updated_at=at)
    state = refresh(policy, state, calendar)
    state, more = run_actions(policy, calendar, state, spec.on_enter, at, replace_cause(cause, spec.id))
    return state, [event, *more]


def replace_cause(cause: Cause, stage_id: str) -> Cause:
    """The cause of a stage's on_enter actions: the same trigger, named for the entered stage."""
    return Cause(f"entered {stage_id}", cause.key("enter"), {**cause.data, "stage": stage_id})
