"""What a status change or an agent action does to the clocks and the stage timer: start, pause,
resume, stop, start the next cycle, resume after reopen.

Rules (docs/policy-language.md, "How a clock runs"):
- a clock's ``starts_on``, ``stops_on`` and ``pauses_on`` name statuses and actions: a status matches
  when the case *enters* it, an action when it is applied (whatever the status then);
- a clock stops for good on one of its ``stops_on`` (an elapsed clock); a cycle clock ends its cycle
  there instead: a ``next_reply`` clock waits (``pending``) for its next ``starts_on``, a
  ``periodic_update`` clock starts its next cycle at once;
- every clock and the stage timer stop when the case is resolved or closed, and a reopen resumes
  exactly the ones that the resolve or close stopped (a first-response clock met earlier stays met);
- a clock pauses while the status is in its ``pauses_on``, or from an action in its ``pauses_on``
  until the next status change to a status not in it; a stage timer pauses on the stage's
  ``pauses_on`` or, if it has none, on any clock's (statuses only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from policies.model import ClockKind, ClockSpec, Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.deadlines import meter_value, refresh, settle_all, start, stop
from sla_engine.events import EngineEvent
from sla_engine.frozen import replace
from sla_engine.kinds import ClockStatus, EventKind, Status
from sla_engine.state import CaseState, ClockState, Meter, StageState

Events = list[EngineEvent]
ENDED = frozenset({Status.RESOLVED, Status.CLOSED, Status.MERGED})


@dataclass(frozen=True)
class Trigger:
    """One thing that happened to the case: ``action`` (a name, or None) moved it ``old`` -> ``new``."""

    action: str | None
    old: Status
    new: Status
    at: datetime
    actor: str

    @property
    def moved(self) -> bool:
        return self.new != self.old

    def hits(self, names: frozenset[str]) -> bool:
        """Whether a ``starts_on`` / ``stops_on`` / ``pauses_on`` list names this trigger."""
        return (self.action is not None and self.action in names) or (self.moved and self.new in names)


def change_status(
    policy: Policy,
    calendar: BusinessCalendar,
    state: CaseState,
    new: Status,
    at: datetime,
    actor: str,
    action: str,
) -> tuple[CaseState, Events]:
    """Move the case to ``new`` at ``at`` (by ``action``) and apply its effect on every clock and
    the stage timer. Leaving ``waiting_on_creator`` ends a pending ``until``."""
    old = state.status
    state = settle_all(state, at, calendar)
    events: Events = [
        EngineEvent(EventKind.STATUS_CHANGED, at, actor, {"from": str(old), "to": str(new), "action": action})
    ]
    trigger = Trigger(action, old, new, at, actor)
    clocks, clock_events = _clocks_on(policy, state, trigger, calendar)
    events.extend(clock_events)
    stage, stage_events = _stage_on_status(policy, state.stage, new, at, actor, calendar)
    events.extend(stage_events)
    pause_until = state.pause_until if new is Status.WAITING_ON_CREATOR else None
    state = replace(state, status=new, clocks=clocks, stage=stage, updated_at=at, pause_until=pause_until)
    return refresh(policy, state, calendar), events


def action_effects(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, action: str, at: datetime, actor: str
) -> tuple[CaseState, Events]:
    """The clocks' reaction to an action that left the status as it was (a reply, a note, an
    acknowledgement of a case already in progress); no event when no clock names ``action``."""
    trigger = Trigger(action, state.status, state.status, at, actor)
    if not any(trigger.hits(spec.starts_on | spec.stops_on | spec.pauses_on) for spec in policy.clocks):
        return state, []
    state = settle_all(state, at, calendar)
    clocks, events = _clocks_on(policy, state, trigger, calendar)
    return refresh(policy, replace(state, clocks=clocks, updated_at=at), calendar), events


def open_clocks(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, at: datetime, actor: str
) -> tuple[CaseState, Events]:
    """Clocks at opening: those that start then run (a cycle clock as its cycle 1), the others wait
    for their ``starts_on``; a case opened ``waiting_on_creator`` pauses what pauses there (and a
    next-reply clock waits: no reply is owed while the agent waits on the creator)."""
    clocks: list[ClockState] = []
    events: Events = []
    trigger = Trigger(None, Status.OPEN, state.status, at, actor)
    for spec in policy.clocks:
        owed = spec.kind is not ClockKind.NEXT_REPLY or state.status is not Status.WAITING_ON_CREATOR
        if spec.starts_at_opening and owed:
            clock = ClockState(spec.name, ClockStatus.RUNNING, Meter(since=at), cycle=1 if spec.cycles else 0)
            if trigger.moved:  # opened waiting on the creator
                clock, more = _pause_or_run(spec, clock, trigger, calendar)
                events.extend(more)
        else:
            clock = ClockState(spec.name, ClockStatus.PENDING, Meter())
        clocks.append(clock)
    stage = state.stage
    if trigger.moved:
        stage, more = _stage_on_status(policy, stage, state.status, at, actor, calendar)
        events.extend(more)
    return replace(state, clocks=tuple(clocks), stage=stage), events


def _clocks_on(
    policy: Policy, state: CaseState, trigger: Trigger, calendar: BusinessCalendar
) -> tuple[tuple[ClockState, ...], Events]:
    clocks: list[ClockState] = []
    events: Events = []
    for spec, clock in zip(policy.clocks, state.clocks, strict=True):
        clock, more = _clock_on(spec, clock, trigger, calendar)
        clocks.append(clock)
        events.extend(more)
    return tuple(clocks), events


def _clock_on(
    spec: ClockSpec, clock: ClockState, trigger: Trigger, calendar: BusinessCalendar
) -> tuple[ClockState, Events]:
    if clock.status is ClockStatus.STOPPED:
        return _after_reopen(spec, clock, trigger, calendar)
    if clock.status is ClockStatus.PENDING:
        if trigger.new in ENDED or not trigger.hits(spec.starts_on):
            return clock, []
        return _start_cycle(spec, clock, trigger, calendar)
    if trigger.moved and trigger.new in ENDED:
        return _stop(spec, clock, trigger, calendar)
    if trigger.hits(spec.stops_on):
        stopped, events = _stop(spec, clock, trigger, calendar)
        if spec.kind is ClockKind.ELAPSED:
            return stopped, events
        idle = ClockState(clock.name, ClockStatus.PENDING, Meter(), cycle=clock.cycle, missed=clock.missed)
        if spec.kind is ClockKind.NEXT_REPLY:
            return idle, events
        started, more = _start_cycle(spec, idle, trigger, calendar)
        return started, events + more
    return _pause_or_run(spec, clock, trigger, calendar)


def _after_reopen(
    spec: ClockSpec, clock: ClockState, trigger: Trigger, calendar: BusinessCalendar
) -> tuple[ClockState, Events]:
    if not (clock.stopped_by in ENDED and trigger.moved and trigger.new not in ENDED):
        return clock, []
    resumed = replace(clock, status=ClockStatus.RUNNING, stopped_at=None, stopped_by=None)
    resumed = replace(resumed, meter=start(clock.meter, trigger.at))
    event = EngineEvent(
        EventKind.RESUMED, trigger.at, trigger.actor, {"clock": clock.name, "after": "reopen"}
    )
    paused, more = _pause_or_run(spec, resumed, trigger, calendar)
    return paused, [event, *more]


def _start_cycle(
    spec: ClockSpec, clock: ClockState, trigger: Trigger, calendar: BusinessCalendar
) -> tuple[ClockState, Events]:
    """A pending clock starts counting from zero (a cycle clock's next cycle)."""
    cycle = clock.cycle + 1 if spec.cycles else 0
    running = ClockState(
        clock.name, ClockStatus.RUNNING, Meter(since=trigger.at), cycle=cycle, missed=clock.missed
    )
    data: dict[str, object] = {"clock": clock.name, "on": trigger.action or str(trigger.new)}
    if cycle:
        data["cycle"] = cycle
    event = EngineEvent(EventKind.CLOCK_STARTED, trigger.at, trigger.actor, data)
    running, more = _pause_or_run(spec, running, trigger, calendar)
    return running, [event, *more]


def _stop(
    spec: ClockSpec, clock: ClockState, trigger: Trigger, calendar: BusinessCalendar
) -> tuple[ClockState, Events]:
    """Stop (or end the cycle of) a running or paused clock; ``stopped_by`` is the status that
    stopped it, or the action when only the action is named (then the event says ``action``)."""
    value = meter_value(clock.meter, trigger.at, calendar)
    by_status = trigger.moved and (trigger.new in ENDED or trigger.new in spec.stops_on)
    by = str(trigger.new) if by_status or trigger.action is None else trigger.action
    stopped = replace(
        clock,
        status=ClockStatus.STOPPED,
        meter=stop(clock.meter, trigger.at, calendar),
        paused=stop(clock.paused, trigger.at, calendar),
        stopped_at=trigger.at,
        stopped_by=by,
    )
    data: dict[str, object] = {
        "clock": clock.name,
        "status": str(trigger.new),
        "elapsed": value.total_seconds(),
        "met": not clock.breached,
    }
    if not by_status and trigger.action is not None:
        data["action"] = trigger.action
    if clock.cycle:
        data["cycle"] = clock.cycle
    return stopped, [EngineEvent(EventKind.CLOCK_STOPPED, trigger.at, trigger.actor, data)]


def _pause_or_run(
    spec: ClockSpec, clock: ClockState, trigger: Trigger, calendar: BusinessCalendar
) -> tuple[ClockState, Events]:
    """Pause a running clock the trigger names in ``pauses_on``; resume a paused one when the
    status moves to one not in it (an action's pause lasts until the next status change)."""
    pausing = trigger.new in spec.pauses_on or (
        trigger.action is not None and trigger.action in spec.pauses_on
    )
    at, actor = trigger.at, trigger.actor
    if pausing and clock.status is ClockStatus.RUNNING:
        paused = replace(
            clock,
            status=ClockStatus.PAUSED,
            meter=stop(clock.meter, at, calendar),
            paused=start(clock.paused, at),
        )
        data = {"clock": clock.name, "status": str(trigger.new)}
        if trigger.new not in spec.pauses_on:
            data["action"] = str(trigger.action)
        return paused, [EngineEvent(EventKind.PAUSED, at, actor, data)]
    if not pausing and trigger.moved and clock.status is ClockStatus.PAUSED:
        paused_for = meter_value(clock.paused, at, calendar) - clock.paused.elapsed
        running = replace(
            clock,
            status=ClockStatus.RUNNING,
            meter=start(clock.meter, at),
            paused=stop(clock.paused, at, calendar),
        )
        resumed = {"clock": clock.name, "paused_for": paused_for.total_seconds()}
        return running, [EngineEvent(EventKind.RESUMED, at, actor, resumed)]
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
