"""The engine's view of a case: immutable values, serialisable to and from plain JSON.

The database stores ``state_to_dict(state)`` beside the case's columns, so the worker can advance a
case from where it stands without replaying its whole history; an auditor's replay from the recorded
actions must give back the same dict. Fields added by policy language v2 (cycles, a pause's
``until``) are written only when they differ from their default, so a state stored before them is
still exactly what a replay gives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from sla_engine.frozen import replace
from sla_engine.instants import iso
from sla_engine.kinds import ClockStatus, Status, TimerKind


@dataclass(frozen=True)
class Meter:
    """Working time accumulated by a clock or timer: ``elapsed`` up to ``since``, and running from
    ``since`` on when ``since`` is set. Stopping folds the running segment into ``elapsed``."""

    elapsed: timedelta = timedelta(0)
    since: datetime | None = None

    @property
    def running(self) -> bool:
        return self.since is not None


@dataclass(frozen=True)
class ClockState:
    """One SLA clock of a case (first_response, resolution, ...)."""

    name: str
    status: ClockStatus
    meter: Meter
    #: Working time spent paused (a running meter while the clock is paused).
    paused: Meter = Meter()
    target: timedelta = timedelta(0)
    due_at: datetime | None = None
    warn_due_at: datetime | None = None
    warned: bool = False
    breached_at: datetime | None = None
    stopped_at: datetime | None = None
    stopped_by: str | None = None
    #: Cycle clocks (next_reply, periodic_update): cycles started so far, and how many breached.
    cycle: int = 0
    missed: int = 0

    @property
    def breached(self) -> bool:
        return self.breached_at is not None

    def key(self, kind: TimerKind) -> str:
        """The dedupe key of this clock's ``kind`` timer: one per clock, or per cycle of a cycle clock."""
        base = f"{kind}:clock:{self.name}"
        return f"{base}:{self.cycle}" if self.cycle else base


@dataclass(frozen=True)
class StageState:
    """Where the case stands on the escalation ladder, and its stage timer."""

    index: int
    id: str
    entered_at: datetime
    status: ClockStatus
    meter: Meter
    target: timedelta | None = None
    due_at: datetime | None = None
    breached_at: datetime | None = None
    #: Working time since the last (repeated) notification of a stage with repeat_notify_every.
    repeat_meter: Meter = Meter()
    repeat_due_at: datetime | None = None
    repeats: int = 0


@dataclass(frozen=True)
class CaseState:
    status: Status
    priority: str
    priority_reason: str
    #: A priority an agent set by hand; wins over the rules until cleared (set_priority to null).
    priority_override: str | None
    queue: str
    assignee: str | None
    attributes: Mapping[str, Any]
    opened_at: datetime
    updated_at: datetime
    stage: StageState
    clocks: tuple[ClockState, ...]
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    escalations: int = 0
    #: When a ``request_info`` pause with ``until`` runs out (the ``pause_expired`` timer).
    pause_until: datetime | None = None

    def clock(self, name: str) -> ClockState:
        for clock in self.clocks:
            if clock.name == name:
                return clock
        raise KeyError(name)

    def with_clock(self, new: ClockState) -> CaseState:
        return replace(self, clocks=tuple(new if c.name == new.name else c for c in self.clocks))

    @property
    def pending_timers(self) -> list[tuple[datetime, TimerKind, str]]:
        """(due instant, kind, clock or stage id) of every timer still to fire, earliest first."""
        return sorted(self._timers())

    @property
    def next_timer(self) -> tuple[datetime, TimerKind, str] | None:
        """``pending_timers[0]``, None when nothing is pending: the earliest, without sorting them
        all (the sweep asks once per timer it fires and once more for the case's next deadline)."""
        timers = self._timers()
        return min(timers) if timers else None

    def _timers(self) -> list[tuple[datetime, TimerKind, str]]:
        timers: list[tuple[datetime, TimerKind, str]] = []
        for c in self.clocks:
            if c.status is ClockStatus.RUNNING:
                if c.warn_due_at is not None and not c.warned and not c.breached:
                    timers.append((c.warn_due_at, TimerKind.AT_RISK, c.name))
                if c.due_at is not None and not c.breached:
                    timers.append((c.due_at, TimerKind.BREACHED, c.name))
        if self.pause_until is not None and self.status is Status.WAITING_ON_CREATOR:
            timers.append((self.pause_until, TimerKind.PAUSE_EXPIRED, "case"))
        s = self.stage
        if s.status is ClockStatus.RUNNING:
            if s.due_at is not None and s.breached_at is None:
                timers.append((s.due_at, TimerKind.ESCALATION, s.id))
            if s.repeat_due_at is not None:
                timers.append((s.repeat_due_at, TimerKind.REPEAT_NOTIFY, s.id))
        return timers

    @property
    def next_deadline_at(self) -> datetime | None:
        """The earliest pending timer of any kind; None when nothing is pending (e.g. resolved)."""
        timers = self._timers()
        return min(timers)[0] if timers else None


# --- JSON form -------------------------------------------------------------------------------------


def _dt(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


def _parse_dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _td(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _parse_td(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _meter_to_dict(m: Meter) -> dict[str, Any]:
    return {"elapsed": _td(m.elapsed), "since": _dt(m.since)}


def _meter_from_dict(d: Mapping[str, Any]) -> Meter:
    return Meter(elapsed=timedelta(seconds=d["elapsed"]), since=_parse_dt(d["since"]))


def _clock_to_dict(c: ClockState) -> dict[str, Any]:
    cycles = {"cycle": c.cycle, "missed": c.missed} if c.cycle else {}
    return cycles | {
        "name": c.name,
        "status": str(c.status),
        "meter": _meter_to_dict(c.meter),
        "paused": _meter_to_dict(c.paused),
        "target": _td(c.target),
        "due_at": _dt(c.due_at),
        "warn_due_at": _dt(c.warn_due_at),
        "warned": c.warned,
        "breached_at": _dt(c.breached_at),
        "stopped_at": _dt(c.stopped_at),
        "stopped_by": c.stopped_by,
    }


def _clock_from_dict(d: Mapping[str, Any]) -> ClockState:
    return ClockState(
        name=d["name"],
        status=ClockStatus(d["status"]),
        meter=_meter_from_dict(d["meter"]),
        paused=_meter_from_dict(d["paused"]),
        target=timedelta(seconds=d["target"]),
        due_at=_parse_dt(d["due_at"]),
        warn_due_at=_parse_dt(d["warn_due_at"]),
        warned=d["warned"],
        breached_at=_parse_dt(d["breached_at"]),
        stopped_at=_parse_dt(d["stopped_at"]),
        stopped_by=d["stopped_by"],
        cycle=d.get("cycle", 0),
        missed=d.get("missed", 0),
    )


def _stage_to_dict(s: StageState) -> dict[str, Any]:
    return {
        "index": s.index,
        "id": s.id,
        "entered_at": _dt(s.entered_at),
        "status": str(s.status),
        "meter": _meter_to_dict(s.meter),
        "target": _td(s.target),
        "due_at": _dt(s.due_at),
        "breached_at": _dt(s.breached_at),
        "repeat_meter": _meter_to_dict(s.repeat_meter),
        "repeat_due_at": _dt(s.repeat_due_at),
        "repeats": s.repeats,
    }


def _stage_from_dict(d: Mapping[str, Any]) -> StageState:
    entered = _parse_dt(d["entered_at"])
    assert entered is not None
    return StageState(
        index=d["index"],
        id=d["id"],
        entered_at=entered,
        status=ClockStatus(d["status"]),
        meter=_meter_from_dict(d["meter"]),
        target=_parse_td(d["target"]),
        due_at=_parse_dt(d["due_at"]),
        breached_at=_parse_dt(d["breached_at"]),
        repeat_meter=_meter_from_dict(d["repeat_meter"]),
        repeat_due_at=_parse_dt(d["repeat_due_at"]),
        repeats=d["repeats"],
    )


def state_to_dict(state: CaseState) -> dict[str, Any]:
    """A JSON-ready dict; ``state_from_dict`` gives back an equal state."""
    pause = {} if state.pause_until is None else {"pause_until": _dt(state.pause_until)}
    return pause | {
        "status": str(state.status),
        "priority": state.priority,
        "priority_reason": state.priority_reason,
        "priority_override": state.priority_override,
        "queue": state.queue,
        "assignee": state.assignee,
        "attributes": dict(state.attributes),
        "opened_at": _dt(state.opened_at),
        "updated_at": _dt(state.updated_at),
        "stage": _stage_to_dict(state.stage),
        "clocks": [_clock_to_dict(c) for c in state.clocks],
        "resolved_at": _dt(state.resolved_at),
        "closed_at": _dt(state.closed_at),
        "escalations": state.escalations,
    }


def state_from_dict(d: Mapping[str, Any]) -> CaseState:
    """The state ``state_to_dict`` gave ``d`` for (as JSON read it back).

    msgspec's converter builds it in one pass in C, a quarter of the time of the field-by-field
    path below (``_state_from_fields``), which the sweep paid for every case it advanced
    (bench/README.md, "2026-12-04 (morning)"). Both give equal states for every stored form
    (tests/engine/test_state_round_trip.py): datetimes from ISO text, durations from seconds,
    defaults for the fields a state stored before them lacks. A document the converter refuses
    takes the field-by-field path, the definition, which raises as it always did."""
    try:
        return msgspec.convert(d, CaseState, strict=False)
    except msgspec.ValidationError:
        return _state_from_fields(d)


_DECODE_STATE = msgspec.json.Decoder(CaseState, strict=False).decode


def state_from_json(text: str | bytes) -> CaseState:
    """``state_from_dict`` of the stored JSON ``text``, decoded straight into the state.

    The sweep reads every due case's state as text and advances it: msgspec's typed decoder builds
    the state in one pass in C, where parsing a dict first and converting it took twice as long
    (1.4 against 3.2 ms for a batch of 200 stored states, bench/README.md "2026-12-04 (evening)").
    A text the decoder refuses (a ``NaN`` token, a document missing a field) takes
    ``state_from_dict``'s path through the standard library's parser, so it reads, or fails, as
    it always did."""
    try:
        return _DECODE_STATE(text)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return state_from_dict(json.loads(text))


def _state_from_fields(d: Mapping[str, Any]) -> CaseState:
    opened = _parse_dt(d["opened_at"])
    updated = _parse_dt(d["updated_at"])
    assert opened is not None and updated is not None
    return CaseState(
        status=Status(d["status"]),
        priority=d["priority"],
        priority_reason=d["priority_reason"],
        priority_override=d["priority_override"],
        queue=d["queue"],
        assignee=d["assignee"],
        attributes=d["attributes"],
        opened_at=opened,
        updated_at=updated,
        stage=_stage_from_dict(d["stage"]),
        clocks=tuple(_clock_from_dict(c) for c in d["clocks"]),
        resolved_at=_parse_dt(d["resolved_at"]),
        closed_at=_parse_dt(d["closed_at"]),
        escalations=d.get("escalations", 0),
        pause_until=_parse_dt(d.get("pause_until")),
    )


def clock_from_dict(d: Mapping[str, Any]) -> ClockState:
    """One clock of a stored state, for a reader that fetched only that part (a listing)."""
    return _clock_from_dict(d)
