"""Typed, frozen objects for a loaded policy and calendar.

The loader (``policies.loader``) turns validated JSON into these; the engine reads only these, never
raw JSON, so a policy that reached the engine has passed the schema and the lint. Everything here is
immutable and hashable where it can be, so one parsed policy version can be cached and shared by
every case pinned to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import StrEnum
from typing import Any


class Op(StrEnum):
    """Comparison operators of a condition; see docs/policy-language.md."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EXISTS = "exists"
    WITHIN = "within"


@dataclass(frozen=True)
class Compare:
    """``{"field": "creator.tier", "op": "in", "value": [...]}``; ``value`` is a duration for WITHIN."""

    field: str
    op: Op
    value: Any = None


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Compare | AllOf | AnyOf | Not


@dataclass(frozen=True)
class PriorityRule:
    condition: Condition
    then: str
    #: The rule's position in the policy's ``priority.rules`` (0-based); shown to agents as "why".
    index: int
    description: str | None = None


@dataclass(frozen=True)
class PriorityPolicy:
    default: str
    rules: tuple[PriorityRule, ...] = ()


@dataclass(frozen=True)
class Target:
    """A duration, either one for every priority or one per priority.

    ``for_priority`` raises KeyError for a priority without a target; the lint guarantees that every
    priority a policy can produce has one, so the engine may rely on it.
    """

    single: timedelta | None = None
    by_priority: Mapping[str, timedelta] = field(default_factory=dict)

    def for_priority(self, priority: str) -> timedelta:
        if self.single is not None:
            return self.single
        return self.by_priority[priority]


class ActionKind(StrEnum):
    NOTIFY = "notify"
    SET_PRIORITY = "set_priority"
    ASSIGN_QUEUE = "assign_queue"


@dataclass(frozen=True)
class PolicyAction:
    """One action of ``on_enter`` / ``on_breach``: its kind and its single argument."""

    kind: ActionKind
    value: str


@dataclass(frozen=True)
class NotAfter:
    """Caps a clock's deadline at the datetime attribute ``field`` minus ``margin`` (wall time)."""

    field: str
    margin: timedelta = timedelta(0)


class ClockKind(StrEnum):
    """How a clock counts; see docs/policy-language.md, "Clock kinds"."""

    #: One measurement from its start (opening, or a ``starts_on``) to its first stop (v1 clocks).
    ELAPSED = "elapsed"
    #: Cycles: each starts at opening or a creator message and ends at the next public reply.
    NEXT_REPLY = "next_reply"
    #: Cycles back to back: a public update is due every target; each update starts the next.
    PERIODIC_UPDATE = "periodic_update"


#: The triggers a cycle clock uses when the policy names none.
DEFAULT_STARTS_ON: Mapping[ClockKind, frozenset[str]] = {
    ClockKind.ELAPSED: frozenset(),
    ClockKind.NEXT_REPLY: frozenset({"creator_replied"}),
    ClockKind.PERIODIC_UPDATE: frozenset(),
}
DEFAULT_STOPS_ON: Mapping[ClockKind, frozenset[str]] = {
    ClockKind.ELAPSED: frozenset(),
    ClockKind.NEXT_REPLY: frozenset({"reply", "request_info"}),
    ClockKind.PERIODIC_UPDATE: frozenset({"reply", "request_info"}),
}


@dataclass(frozen=True)
class ClockSpec:
    """One clock. ``starts_on``, ``stops_on`` and ``pauses_on`` hold status and action names (the
    loader fills a cycle clock's defaults in); an empty ``starts_on`` on an elapsed clock means it
    starts when the case opens."""

    name: str
    target: Target
    stops_on: frozenset[str] = frozenset()
    pauses_on: frozenset[str] = frozenset()
    warn_at: float | None = None
    not_after: NotAfter | None = None
    on_breach: tuple[PolicyAction, ...] = ()
    title: str | None = None
    description: str | None = None
    kind: ClockKind = ClockKind.ELAPSED
    starts_on: frozenset[str] = frozenset()
    on_warn: tuple[PolicyAction, ...] = ()

    @property
    def cycles(self) -> bool:
        """Whether the clock measures cycles (each with its own deadline) rather than once."""
        return self.kind is not ClockKind.ELAPSED

    @property
    def starts_at_opening(self) -> bool:
        """Elapsed clocks without ``starts_on`` and every cycle clock start counting at opening."""
        return self.cycles or not self.starts_on


@dataclass(frozen=True)
class StageSpec:
    id: str
    queue: str
    escalate_after: Target | None = None
    on_enter: tuple[PolicyAction, ...] = ()
    on_breach: tuple[PolicyAction, ...] = ()
    repeat_notify_every: timedelta | None = None
    #: Statuses that pause this stage's timer; None means "the union of the clocks' pauses_on".
    pauses_on: frozenset[str] | None = None
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    incident_type: str
    calendar: str
    priority: PriorityPolicy
    clocks: tuple[ClockSpec, ...]
    stages: tuple[StageSpec, ...]
    description: str | None = None
    #: What a breach of one of the case's child cases does to it: "escalate" (to its next stage) or
    #: "none" (the default).
    on_child_breach: str = "none"
    #: The canonical JSON document (sorted keys, no insignificant whitespace) and its SHA-256; the
    #: registry versions a policy by this hash.
    canonical_json: str = ""
    sha256: str = ""

    def supports_priority(self, priority: str) -> bool:
        """Whether every clock and stage has a duration for ``priority`` (so an agent may set it).

        The lint guarantees it for every priority the policy itself can produce; an agent's manual
        ``set_priority`` must be checked with this before it reaches the engine.
        """
        targets = [clock.target for clock in self.clocks]
        targets += [stage.escalate_after for stage in self.stages if stage.escalate_after is not None]
        return all(t.single is not None or priority in t.by_priority for t in targets)

    def stage_pauses(self, stage: StageSpec) -> frozenset[str]:
        """Statuses that pause ``stage``'s timer: its own list, else every clock's pauses_on."""
        if stage.pauses_on is not None:
            return stage.pauses_on
        paused: frozenset[str] = frozenset()
        for clock in self.clocks:
            paused |= clock.pauses_on
        return paused


@dataclass(frozen=True)
class WorkingInterval:
    """Working time on one weekday, local wall-clock. ``end <= start`` means it runs past midnight."""

    start: time
    end: time

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class DayRule:
    """A date with its own hours: closed (``hours == ()``: a holiday) or special hours (a half day).

    ``year`` None means every year (a ``"MM-DD"`` entry), between ``first_year`` and ``last_year``
    when they are given. A rule for a date wins over the weekly hours and the country holidays."""

    month: int
    day: int
    year: int | None = None
    first_year: int | None = None
    last_year: int | None = None
    hours: tuple[WorkingInterval, ...] = ()

    def applies(self, on: date) -> bool:
        if (on.month, on.day) != (self.month, self.day):
            return False
        if self.year is not None:
            return on.year == self.year
        return (self.first_year or on.year) <= on.year <= (self.last_year or on.year)


@dataclass(frozen=True)
class Calendar:
    """A working-time calendar. ``always`` (24x7) has ``always=True`` and needs nothing else.

    ``weekly`` holds seven entries, Monday first (index = ``date.weekday()``), each the intervals that
    *start* on that day (an empty tuple: closed). Holidays are local dates on which no interval
    starts: explicit ``extra_holidays`` plus
    the public holidays of ``holiday_country`` (and ``holiday_subdivision``) from the `holidays`
    package. ``extra_working_days`` re-opens a date the country list closes.
    """

    name: str
    timezone: str = "UTC"
    always: bool = False
    weekly: tuple[tuple[WorkingInterval, ...], ...] = ()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    extra_holidays: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    title: str | None = None
    #: Dates with their own hours or closed every year (``holidays.dates`` entries beyond
    #: ``YYYY-MM-DD``); a date-specific rule wins over a yearly one.
    day_rules: tuple[DayRule, ...] = ()


ALWAYS = Calendar(name="always", timezone="UTC", always=True, title="24x7")
