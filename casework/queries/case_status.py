"""A case's state as an agent reads it: every clock with its target, deadline (UTC and the
calendar's local time), remaining working time, paused/running/stopped, breached and by how much;
the stage and when it escalates; and why the case has its priority.

Read-only and computed at ``now`` from the stored engine state and the pinned policy version, so
what the agent sees is what the worker will act on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session

from casework.links.listing import linked_cases
from casework.registry import policy_registry
from sla_engine.business_time import BusinessCalendar
from sla_engine.deadlines import meter_value, remaining
from sla_engine.kinds import ClockStatus
from sla_engine.state import ClockState, state_from_dict


class CaseRecord(Protocol):
    """What the view reads of a case: a ``Case``, or a row of these columns
    (``case_queries.read_case``)."""

    @property
    def id(self) -> str: ...
    @property
    def incident_type(self) -> str: ...
    @property
    def policy_id(self) -> str: ...
    @property
    def policy_version(self) -> int: ...
    @property
    def state(self) -> dict[str, Any]: ...
    @property
    def next_deadline_at(self) -> datetime | None: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def version(self) -> int: ...


def iso_duration(value: timedelta) -> str:
    """``PT1H30M``, ``P1DT2H``; whole seconds, for display (negative gets a leading minus)."""
    total = int(value.total_seconds())
    sign, total = ("-", -total) if total < 0 else ("", total)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    text = (f"{days}D" if days else "") + (f"T{time}" if time else "")
    return f"{sign}P{text or 'T0S'}"


def _until(calendar: BusinessCalendar, now: datetime, due: datetime) -> float:
    """Working seconds from ``now`` to ``due`` (negative when ``due`` has passed)."""
    if due >= now:
        return calendar.elapsed(now, due).total_seconds()
    return -calendar.elapsed(due, now).total_seconds()


def _local(calendar: BusinessCalendar, instant: datetime | None) -> datetime | None:
    return None if instant is None else calendar.local(instant)


def clock_view(
    clock: ClockState, title: str | None, calendar: BusinessCalendar, now: datetime
) -> dict[str, Any]:
    breached_by: float | None = None
    left: float | None
    if clock.breached_at is not None:
        end = clock.stopped_at or now
        breached_by = calendar.elapsed(clock.breached_at, end).total_seconds()
        left = -breached_by
    elif clock.status is ClockStatus.STOPPED:
        left = None
    elif clock.status is ClockStatus.PAUSED or clock.due_at is None:
        left = remaining(clock, now, calendar).total_seconds()
    else:
        left = _until(calendar, now, clock.due_at)
    stopped = clock.status is ClockStatus.STOPPED
    return {
        "name": clock.name,
        "title": title,
        "state": str(clock.status),
        "target": iso_duration(clock.target),
        "target_seconds": clock.target.total_seconds(),
        "due_at": clock.due_at,
        "due_at_local": _local(calendar, clock.due_at),
        "timezone": str(calendar.zone),
        "remaining_seconds": left,
        "paused_seconds": meter_value(clock.paused, now, calendar).total_seconds(),
        "warned": clock.warned,
        "breached": clock.breached,
        "breached_at": clock.breached_at,
        "breached_by_seconds": breached_by,
        "stopped_at": clock.stopped_at,
        "met": (not clock.breached) if stopped else None,
    }


def case_status(
    session: Session, case: CaseRecord, now: datetime, breached: bool, policy_sha256: str | None = None
) -> dict[str, Any]:
    """The case view (see ``api.schemas.CaseView``) at ``now``. ``policy_sha256``, when the caller
    read it with the case (``case_queries.read_case``), saves a query for the pinned version."""
    policy, calendar = policy_registry.get_policy(
        session, case.policy_id, case.policy_version, sha256=policy_sha256
    )
    state = state_from_dict(case.state)
    titles = {c.name: c.title for c in policy.clocks}
    spec = policy.stages[state.stage.index]
    stage = state.stage
    stage_left = None if stage.due_at is None else _until(calendar, now, stage.due_at)
    return {
        "id": case.id,
        "incident_type": case.incident_type,
        "policy": {"id": case.policy_id, "version": case.policy_version},
        "status": str(state.status),
        "stage": {
            "id": stage.id,
            "index": stage.index,
            "title": spec.title,
            "queue": spec.queue,
            "entered_at": stage.entered_at,
            "state": str(stage.status),
            "escalates_at": stage.due_at,
            "escalates_at_local": _local(calendar, stage.due_at),
            "remaining_seconds": stage_left,
            "is_last": stage.index == len(policy.stages) - 1,
        },
        "queue": state.queue,
        "assignee": state.assignee,
        "priority": state.priority,
        "priority_reason": state.priority_reason,
        "priority_set_by_hand": state.priority_override is not None,
        "attributes": dict(state.attributes),
        "clocks": [clock_view(c, titles.get(c.name), calendar, now) for c in state.clocks],
        "next_deadline_at": case.next_deadline_at,
        "opened_at": case.opened_at,
        "updated_at": case.updated_at,
        "resolved_at": case.resolved_at,
        "escalations": state.escalations,
        "breached": breached,
        "version": case.version,
        "links": linked_cases(session, case.id),
    }
