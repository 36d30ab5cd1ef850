"""Working-time meters and the deadlines they lead to.

A clock or stage timer is a meter of working time: ``elapsed`` up to ``since`` plus the running
segment. Every change to a case (a pause, a priority change, an escalation) first *settles* the
meters at the change's instant, then recomputes every deadline from the remaining working time; as
business-time addition is additive, settling more often never moves a deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from policies.model import ClockSpec, Policy, StageSpec
from sla_engine.business_time import BusinessCalendar
from sla_engine.conditions import get_field, parse_instant
from sla_engine.frozen import replace
from sla_engine.kinds import ClockStatus
from sla_engine.state import CaseState, ClockState, Meter, StageState

ZERO = timedelta(0)


def meter_value(meter: Meter, at: datetime, calendar: BusinessCalendar) -> timedelta:
    """Working time on ``meter`` at instant ``at``."""
    if meter.since is None:
        return meter.elapsed
    return meter.elapsed + calendar.elapsed(meter.since, at)


def settle(meter: Meter, at: datetime, calendar: BusinessCalendar) -> Meter:
    """The same meter with its running segment folded in at ``at`` (still running if it was)."""
    if meter.since is None or at <= meter.since:
        return meter
    return Meter(elapsed=meter_value(meter, at, calendar), since=at)


def stop(meter: Meter, at: datetime, calendar: BusinessCalendar) -> Meter:
    return Meter(elapsed=meter_value(meter, at, calendar), since=None)


def start(meter: Meter, at: datetime) -> Meter:
    return meter if meter.since is not None else Meter(elapsed=meter.elapsed, since=at)


def due_after(meter: Meter, target: timedelta, calendar: BusinessCalendar) -> datetime | None:
    """When ``meter`` reaches ``target``; None if it is not running. A meter already past its
    target (a priority raised after the fact) is due at once, at the start of its running segment."""
    if meter.since is None:
        return None
    remaining = target - meter.elapsed
    if remaining <= ZERO:
        return meter.since
    return calendar.add(meter.since, remaining)


def not_after_cap(spec: ClockSpec, state: CaseState) -> datetime | None:
    """The wall-clock cap of a ``not_after`` clock: the attribute's instant minus the margin."""
    if spec.not_after is None:
        return None
    instant = parse_instant(get_field(state.attributes, spec.not_after.field))
    return None if instant is None else instant - spec.not_after.margin


def refresh_clock(
    spec: ClockSpec, clock: ClockState, state: CaseState, calendar: BusinessCalendar
) -> ClockState:
    """The clock with target, due and warning instants recomputed for the case's current priority."""
    target = spec.target.for_priority(state.priority)
    if clock.breached_at is not None:
        # A breached clock keeps running for lateness, but its deadline stays the one it missed.
        return _with_deadlines(clock, target, clock.breached_at, None)
    if clock.status is not ClockStatus.RUNNING or clock.meter.since is None:
        return _with_deadlines(clock, target, None, None)
    due = due_after(clock.meter, target, calendar)
    cap = not_after_cap(spec, state)
    budget = target
    if due is not None and cap is not None and cap < due:
        # Capped: the deadline is the cap, and the warning comes at warn_at of that shorter budget.
        due = max(cap, clock.meter.since)
        budget = clock.meter.elapsed + calendar.elapsed(clock.meter.since, due)
    warn = None
    if spec.warn_at is not None and not clock.warned and not clock.breached:
        warn = due_after(clock.meter, budget * spec.warn_at, calendar)
        if warn is not None and due is not None and warn >= due:
            warn = None
    return _with_deadlines(clock, target, due, warn)


def _same(kept: datetime | None, new: datetime | None) -> bool:
    """Whether keeping ``kept`` stores what ``new`` would: the same wall time, ``fold`` and zone
    object (an equal instant in another zone is written with another offset; and two datetimes of
    one zone compare by wall time alone, so the repeated hour of a DST change needs ``fold``)."""
    if kept is None or new is None:
        return kept is new
    return kept == new and kept.tzinfo is new.tzinfo and kept.fold == new.fold


def _with_deadlines(
    clock: ClockState, target: timedelta, due: datetime | None, warn: datetime | None
) -> ClockState:
    """``clock`` with these deadlines: the same object when they are the ones it has (most clocks
    of a case are untouched by a step, and the engine refreshes every clock after each one)."""
    if clock.target == target and _same(clock.due_at, due) and _same(clock.warn_due_at, warn):
        return clock
    return replace(clock, target=target, due_at=due, warn_due_at=warn)


def refresh_stage(
    spec: StageSpec, stage: StageState, state: CaseState, calendar: BusinessCalendar, last: bool
) -> StageState:
    """The stage timer's escalation and repeat instants, recomputed for the current priority.
    Only the ``last`` stage repeats its notifications (the lint warns about the others)."""
    target = spec.escalate_after.for_priority(state.priority) if spec.escalate_after is not None else None
    running = stage.status is ClockStatus.RUNNING
    due = None
    if running and target is not None and stage.breached_at is None:
        due = due_after(stage.meter, target, calendar)
    repeat = None
    if running and last and spec.repeat_notify_every is not None:
        repeat = due_after(stage.repeat_meter, spec.repeat_notify_every, calendar)
    if stage.target == target and _same(stage.due_at, due) and _same(stage.repeat_due_at, repeat):
        return stage
    return replace(stage, target=target, due_at=due, repeat_due_at=repeat)


def refresh(policy: Policy, state: CaseState, calendar: BusinessCalendar) -> CaseState:
    """Every deadline of the case recomputed from its meters, priority and attributes."""
    clocks = tuple(
        refresh_clock(spec, clock, state, calendar)
        for spec, clock in zip(policy.clocks, state.clocks, strict=True)
    )
    last = state.stage.index == len(policy.stages) - 1
    stage = refresh_stage(policy.stages[state.stage.index], state.stage, state, calendar, last)
    if stage is state.stage and all(new is old for new, old in zip(clocks, state.clocks, strict=True)):
        return state
    return replace(state, clocks=clocks, stage=stage)


def settle_all(state: CaseState, at: datetime, calendar: BusinessCalendar) -> CaseState:
    """Every running meter of the case folded in at ``at``; deadlines are unchanged by this."""
    # Pause meters are left as they are: their ``since`` marks when the current pause began.
    clocks = tuple(replace(c, meter=settle(c.meter, at, calendar)) for c in state.clocks)
    s = state.stage
    stage = replace(s, meter=settle(s.meter, at, calendar), repeat_meter=settle(s.repeat_meter, at, calendar))
    return replace(state, clocks=clocks, stage=stage)


def remaining(clock: ClockState, at: datetime, calendar: BusinessCalendar) -> timedelta:
    """Working time left before the clock's target at ``at`` (negative once breached)."""
    return clock.target - meter_value(clock.meter, at, calendar)
