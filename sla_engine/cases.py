"""The engine's entry points: open a case, apply an agent action, advance timers to ``now``, replay.

Every function is pure: (policy, calendar, state, input) -> Step(new state, events). The caller
stores the events in order; folding them back (``replay`` over the recorded agent actions) gives the
same state, which is how auditors check that each escalation happened as the policy said.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from policies.model import Policy
from sla_engine.agent_actions import InvalidAction, handle
from sla_engine.business_time import BusinessCalendar
from sla_engine.deadlines import refresh
from sla_engine.events import AgentAction, EngineEvent, Step
from sla_engine.kinds import ClockStatus, EventKind, Status
from sla_engine.policy_actions import Cause, run_actions
from sla_engine.priority import decide_priority
from sla_engine.state import CaseState, ClockState, Meter, StageState
from sla_engine.status_effects import open_clocks
from sla_engine.timers import fire_due

#: The statuses a case may open in: ``open``, or already waiting on the creator (an agent opens it
#: on the creator's behalf and needs details first).
OPENING_STATUSES = (Status.OPEN, Status.WAITING_ON_CREATOR)


def open_case(
    policy: Policy,
    calendar: BusinessCalendar,
    attributes: Mapping[str, Any],
    opened_at: datetime,
    actor: str,
    status: Status = Status.OPEN,
) -> Step:
    """A new case at ``opened_at``: stage 0 and its clocks running (those with ``starts_on`` wait),
    priority from the rules, and stage 0's on_enter actions. A case opened ``waiting_on_creator``
    has its pausing clocks and stage timer paused from the start (the ``opened`` event says so).
    Nothing is advanced: call ``advance`` for timers already due."""
    if opened_at.tzinfo is None:
        raise InvalidAction("opened_at must be timezone-aware", "opened_at")
    if status not in OPENING_STATUSES:
        raise InvalidAction(f"a case opens as open or waiting_on_creator, not {status}", "status")
    priority, reason = decide_priority(policy, attributes, opened_at)
    first = policy.stages[0]
    running = Meter(since=opened_at)
    state = CaseState(
        status=status,
        priority=priority,
        priority_reason=reason,
        priority_override=None,
        queue=first.queue,
        assignee=None,
        attributes=dict(attributes),
        opened_at=opened_at,
        updated_at=opened_at,
        stage=StageState(0, first.id, opened_at, ClockStatus.RUNNING, running, repeat_meter=running),
        clocks=tuple(ClockState(c.name, ClockStatus.RUNNING, running) for c in policy.clocks),
    )
    state, clock_events = open_clocks(policy, calendar, state, opened_at, actor)
    state = refresh(policy, state, calendar)
    data: dict[str, Any] = {
        "incident_type": policy.incident_type,
        "policy_id": policy.id,
        "priority": priority,
        "priority_reason": reason,
        "stage": first.id,
        "queue": first.queue,
        "attributes": dict(attributes),
    }
    if status is not Status.OPEN:  # written only when it says something: v1 histories replay as they were
        data["status"] = str(status)
    events: list[EngineEvent] = [EngineEvent(EventKind.OPENED, opened_at, actor, data), *clock_events]
    cause = Cause(f"entered {first.id}", "opened", {"stage": first.id})
    state, more = run_actions(policy, calendar, state, first.on_enter, opened_at, cause)
    return Step(state, events + more)


def advance(policy: Policy, calendar: BusinessCalendar, state: CaseState, now: datetime) -> Step:
    """Fire, in order, every timer due at or before ``now``; events carry their deadlines as ``at``."""
    state, events = fire_due(policy, calendar, state, now)
    return Step(state, events)


def apply_action(policy: Policy, calendar: BusinessCalendar, state: CaseState, action: AgentAction) -> Step:
    """Advance to ``action.at`` (timers due by then fire first and are returned first), then apply it.

    Raises ``ForbiddenTransition`` if the state machine forbids the action in the case's status,
    ``InvalidAction`` for arguments that cannot apply or an action older than the case's last change.
    """
    if action.at.tzinfo is None:
        raise InvalidAction("the action's instant must be timezone-aware", "at")
    if action.at < state.updated_at:
        raise InvalidAction(
            f"action at {action.at.isoformat()} is older than the case's last change "
            f"({state.updated_at.isoformat()}); actions apply in time order",
            "at",
        )
    state, timed = fire_due(policy, calendar, state, action.at)
    state, events = handle(policy, calendar, state, action)
    return Step(state, timed + events)


def replay(
    policy: Policy,
    calendar: BusinessCalendar,
    attributes: Mapping[str, Any],
    opened_at: datetime,
    actions: Sequence[AgentAction],
    now: datetime,
    opened_by: str = "system",
    status: Status = Status.OPEN,
) -> Step:
    """Fold a whole history: open, then each action in order, then advance to ``now``."""
    step = open_case(policy, calendar, attributes, opened_at, opened_by, status)
    state, events = step.state, list(step.events)
    for action in actions:
        step = apply_action(policy, calendar, state, action)
        state = step.state
        events.extend(step.events)
    step = advance(policy, calendar, state, now)
    return Step(step.state, events + list(step.events))
