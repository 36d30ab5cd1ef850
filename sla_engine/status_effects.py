"""What a status change does to the clocks and the stage timer: pause, resume, stop, resume after reopen.

Rules (docs/policy-language.md):
- a clock stops for good when the case reaches one of its ``stops_on`` statuses;
- every clock and the stage timer stop when the case is resolved or closed, and a reopen resumes
  exactly the ones that the resolve or close stopped (a first-response clock met earlier stays met);
- a clock pauses while the status is in its ``pauses_on``; a stage timer pauses on the stage's
  ``pauses_on`` or, if it has none, on any clock's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from policies.model import ClockSpec, Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.deadlines import meter_value, refresh, settle_all, start, stop
from sla_engine.events import EngineEvent
from sla_engine.kinds import ClockStatus, EventKind, Status
from sla_engine.state import CaseState, ClockState, StageState

Events = list[EngineEvent]
ENDED = frozenset({Status.RESOLVED, Status.CLOSED, Status.MERGED})


def change_status(
    policy: Policy,
    calendar: BusinessCalendar,
    state: CaseState,
    new: Status,
    at: datetime,
    actor: str,
    action: str,
) -> tuple[CaseState, Events]:
    """Move the case to ``new`` at ``at`` and apply its effect on every clock and the stage timer."""
    old = state.status
    state = settle_all(state, at, calendar)
    events: Events = [
        EngineEvent(EventKind.STATUS_CHANGED, at, actor, {"from": str(old), "to": str(new), "action": action})
    ]
    clocks = []
    for spec, clock in zip(policy.clocks, state.clocks, strict=True):
        clock, clock_events = _clock_on_status(spec, clock, new, at, actor, calendar)
        clocks.append(clock)
        events.extend(clock_events)
    stage, stage_events = _stage_on_status(policy, state.stage, new, at, actor, calendar)
    events.extend(stage_events)
    state = replace(state, status=new, clocks=tuple(clocks), stage=stage, updated_at=at)
    return refresh(policy, state, calendar), events


def _clock_on_status(
    spec: ClockSpec, clock: ClockState, new: Status, at: datetime, actor: str, calendar: BusinessCalendar
) -> tuple[ClockState, Events]:
    if clock.status is ClockStatus.STOPPED:
        if clock.stopped_by in ENDED and new not in ENDED:
            resumed = replace(clock, status=ClockStatus.RUNNING, stopped_at=None, stopped_by=None)
            resumed = replace(resumed, meter=start(clock.meter, at))
            event = EngineEvent(EventKind.RESUMED, at, actor, {"clock": clock.name, "after": "reopen"})
            paused, more = _clock_pause_or_run(spec, resumed, new, at, actor, calendar)
            return paused, [event, *more]
        return clock, []
    if new in ENDED or new in spec.stops_on:
        value = meter_value(clock.meter, at, calendar)
        stopped = replace(
            clock,
            status=ClockStatus.STOPPED,
            meter=stop(clock.meter, at, calendar),
            paused=stop(clock.paused, at, calendar),
            stopped_at=at,
            stopped_by=new,
        )
        data = {
            "clock": clock.name,
            "status": str(new),
            "elapsed": value.total_seconds(),
            "met": not clock.breached,
        }
        return stopped, [EngineEvent(EventKind.CLOCK_STOPPED, at, actor, data)]
    return _clock_pause_or_run(spec, clock, new, at, actor, calendar)


def _clock_pause_or_run(
    spec: ClockSpec, clock: ClockState, new: Status, at: datetime, actor: str, calendar: BusinessCalendar
) -> tuple[ClockState, Events]:
    if new in spec.pauses_on and clock.status is ClockStatus.RUNNING:
        paused = replace(
            clock,
            status=ClockStatus.PAUSED,
            meter=stop(clock.meter, at, calendar),
            paused=start(clock.paused, at),
        )
        return paused, [EngineEvent(EventKind.PAUSED, at, actor, {"clock": clock.name, "status": str(new)})]
    if new not in spec.pauses_on and clock.status is ClockStatus.PAUSED:
        paused_for = meter_value(clock.paused, at, calendar) - clock.paused.elapsed
        running = replace(
            clock,
            status=ClockStatus.RUNNING,
            meter=start(clock.meter, at),
            paused=stop(clock.paused, at, calendar),
        )
        data = {"clock": clock.name, "paused_for": paused_for.total_seconds()}
        return running, [EngineEvent(EventKind.RESUMED, at, actor, data)]
    return clock, []


def _stage_on_status(
    policy: Policy, stage: StageState, new: Status, at: datetime, actor: str, calendar: BusinessCalendar
) -> tuple[StageState, Events]:
    pauses = policy.stage_pauses(policy.stages[stage.index])
    should_run = new not in ENDED and new not in pauses
    if should_run and stage.status is not ClockStatus.RUNNING:
        running = replace(
            stage,
            status=ClockStatus.RUNNING,
            meter=start(stage.meter, at),
            repeat_meter=start(stage.repeat_meter, at),
        )
        return running, [EngineEvent(EventKind.RESUMED, at, actor, {"stage": stage.id})]
    if not should_run and stage.status is ClockStatus.RUNNING:
        kind = ClockStatus.STOPPED if new in ENDED else ClockStatus.PAUSED
        held = replace(
            stage,
            status=kind,
            meter=stop(stage.meter, at, calendar),
            repeat_meter=stop(stage.repeat_meter, at, calendar),
        )
        event_kind = EventKind.CLOCK_STOPPED if new in ENDED else EventKind.PAUSED
        return held, [EngineEvent(event_kind, at, actor, {"stage": stage.id, "status": str(new)})]
    if new in ENDED and stage.status is ClockStatus.PAUSED:
        return replace(stage, status=ClockStatus.STOPPED), []
    return stage, []
