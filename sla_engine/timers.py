"""Timed rules: what happens when each kind of pending timer expires.

``fire_due`` applies every timer due at or before ``now`` in order of their deadlines. Each firing
carries its deadline as ``at`` (however late it is computed) and a dedupe key derived from the case's
own state, so two workers computing the same escalation produce the same key and it is stored once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from policies.model import Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.deadlines import not_after_cap, refresh, settle_all
from sla_engine.events import EngineEvent
from sla_engine.frozen import replace
from sla_engine.instants import iso
from sla_engine.kinds import SYSTEM_ACTOR, EventKind, Status, TimerKind
from sla_engine.policy_actions import Cause, enter_stage, run_actions
from sla_engine.state import CaseState, ClockState, Meter
from sla_engine.status_effects import change_status

Events = list[EngineEvent]
Fire = Callable[[Policy, BusinessCalendar, CaseState, datetime, str], tuple[CaseState, Events]]

#: A case whose timers keep firing beyond this many times in one call has a policy loop (a zero
#: repeat interval, say); the engine stops rather than spin.
MAX_FIRINGS = 10_000


class TimerLoop(RuntimeError):
    """Timers kept firing without end; the policy is malformed (the lint should have refused it)."""


def _cycle_data(clock: ClockState) -> dict[str, object]:
    return {"cycle": clock.cycle} if clock.cycle else {}


def _fire_at_risk(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, at: datetime, name: str
) -> tuple[CaseState, Events]:
    """The warning at ``warn_at``: an ``at_risk`` event, then the clock's ``on_warn`` actions."""
    clock = state.clock(name)
    spec = next(c for c in policy.clocks if c.name == name)
    data = {"clock": name, "due_at": iso(clock.due_at) if clock.due_at else None, "priority": state.priority}
    key = clock.key(TimerKind.AT_RISK)
    event = EngineEvent(EventKind.AT_RISK, at, SYSTEM_ACTOR, data | _cycle_data(clock), key)
    state = state.with_clock(replace(clock, warned=True, warn_due_at=None))
    state = replace(state, updated_at=max(state.updated_at, at))
    if not spec.on_warn:
        return state, [event]
    cause = Cause(f"{name} at risk", key, {"clock": name})
    state, more = run_actions(policy, calendar, state, spec.on_warn, at, cause)
    return refresh(policy, state, calendar), [event, *more]


def _fire_clock_breach(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, at: datetime, name: str
) -> tuple[CaseState, Events]:
    clock = state.clock(name)
    spec = next(c for c in policy.clocks if c.name == name)
    key = clock.key(TimerKind.BREACHED)
    data: dict[str, object] = {
        "clock": name,
        "due_at": iso(at),
        "priority": state.priority,
        "target": clock.target.total_seconds(),
        "stage": state.stage.id,
        "queue": state.queue,
        **_cycle_data(clock),
    }
    if spec.not_after is not None and not_after_cap(spec, state) == at:
        data["capped_by"] = spec.not_after.field
    events: Events = [EngineEvent(EventKind.BREACHED, at, SYSTEM_ACTOR, data, key)]
    missed = clock.missed + (1 if clock.cycle else 0)
    state = state.with_clock(replace(clock, breached_at=at, warned=True, warn_due_at=None, missed=missed))
    state = replace(state, updated_at=max(state.updated_at, at))
    state, more = run_actions(
        policy, calendar, state, spec.on_breach, at, Cause(f"{name} breached", key, {"clock": name})
    )
    return refresh(policy, state, calendar), events + more


def _fire_escalation(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, at: datetime, stage_id: str
) -> tuple[CaseState, Events]:
    stage = state.stage
    spec = policy.stages[stage.index]
    key = f"breached:stage:{stage_id}:{iso(at)}"
    data = {
        "stage": stage_id,
        "due_at": iso(at),
        "priority": state.priority,
        "target": stage.target.total_seconds() if stage.target else None,
        "queue": state.queue,
    }
    events: Events = [EngineEvent(EventKind.BREACHED, at, SYSTEM_ACTOR, data, key)]
    state = settle_all(state, at, calendar)
    state = replace(state, stage=replace(state.stage, breached_at=at), updated_at=max(state.updated_at, at))
    cause = Cause(f"stage {stage_id} breached", key, {"stage": stage_id})
    state, more = run_actions(policy, calendar, state, spec.on_breach, at, cause)
    events.extend(more)
    if stage.index + 1 < len(policy.stages):
        state, more = enter_stage(policy, calendar, state, stage.index + 1, at, SYSTEM_ACTOR, cause, "timer")
        events.extend(more)
    return refresh(policy, state, calendar), events


def _fire_repeat(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, at: datetime, stage_id: str
) -> tuple[CaseState, Events]:
    stage = state.stage
    spec = policy.stages[stage.index]
    n = stage.repeats + 1
    key = f"repeat:stage:{stage_id}:{iso(at)}"
    notifies = tuple(a for a in spec.on_enter if a.kind == "notify")
    cause = Cause(f"still in {stage_id} (reminder {n})", key, {"stage": stage_id, "repeat": n})
    state, events = run_actions(policy, calendar, state, notifies, at, cause)
    # The next reminder counts from this one's deadline, not from when it was computed.
    stage = replace(state.stage, repeats=n, repeat_meter=Meter(since=at))
    state = replace(state, stage=stage, updated_at=max(state.updated_at, at))
    return refresh(policy, state, calendar), events


def _fire_pause_expired(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, at: datetime, ref: str
) -> tuple[CaseState, Events]:
    """A ``request_info`` pause ran out: ``pause_expired``, then the case resumes (``in_progress``)
    as if the creator had answered, with every clock and the stage timer running again."""
    key = f"pause_expired:{iso(at)}"
    event = EngineEvent(EventKind.PAUSE_EXPIRED, at, SYSTEM_ACTOR, {"until": iso(at)}, key)
    state, more = change_status(
        policy, calendar, state, Status.IN_PROGRESS, at, SYSTEM_ACTOR, str(EventKind.PAUSE_EXPIRED)
    )
    keyed = [replace(e, dedupe_key=f"{key}/{i}") for i, e in enumerate(more)]
    return replace(state, updated_at=max(state.updated_at, at)), [event, *keyed]


#: What each kind of timer does when it expires; a new kind of timer is a member of TimerKind, its
#: entry in ``CaseState.pending_timers`` and its handler here.
FIRE: dict[TimerKind, Fire] = {
    TimerKind.AT_RISK: _fire_at_risk,
    TimerKind.BREACHED: _fire_clock_breach,
    TimerKind.ESCALATION: _fire_escalation,
    TimerKind.REPEAT_NOTIFY: _fire_repeat,
    TimerKind.PAUSE_EXPIRED: _fire_pause_expired,
}


def fire_due(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, now: datetime
) -> tuple[CaseState, Events]:
    """Fire every timer due at or before ``now``, earliest first."""
    events: Events = []
    for _ in range(MAX_FIRINGS):
        timer = state.next_timer
        if timer is None or timer[0] > now:
            return state, events
        at, kind, ref = timer
        state, more = FIRE[kind](policy, calendar, state, at, ref)
        events.extend(more)
    raise TimerLoop(f"more than {MAX_FIRINGS} timers fired at once; check repeat_notify_every")
