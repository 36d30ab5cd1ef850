"""What a reader sees of a case: the one typed view, built here and only here.

``CaseView`` (GET /v1/cases/{id}, the answer to every write, the CLI, the console) has every clock
with its target, deadline (UTC and the calendar's local time), remaining working time,
paused/running/stopped, breached and by how much; the stage and when it escalates; and why the case
has its priority. ``CaseBrief`` (each item of GET /v1/cases) has the same fields with the same
shapes, less the heavy ones: its ``stage`` is a ``StageBrief`` and its clocks are ``ClockBrief``
items, whose keys are the first keys of ``StageView`` and ``ClockView``.

The views are TypedDicts: checked by mypy where they are built, described for /docs and
serialised by Pydantic (``CASE_VIEW``, ``CASE_BRIEFS``) without being validated again, which for a
page of 50 cases cost more than reading it. Templates and the CLI read them by key.

Read-only and computed at ``now`` from the stored engine state and the pinned policy version, so
what the agent sees is what the worker will act on. A new field of a case goes into these types
and their builders (and the table and its migration): the routes, the CLI and the console render
the views without naming fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Protocol, cast

from pydantic import Field, TypeAdapter
from sqlalchemy import Connection
from sqlmodel import Session
from typing_extensions import TypedDict

from casework.links.listing import CaseLinks, linked_cases
from casework.queries.case_queries import ListedCase
from casework.registry import policy_registry
from policies.model import Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.deadlines import meter_value, remaining
from sla_engine.kinds import ClockStatus
from sla_engine.state import ClockState, clock_from_dict, state_from_dict

TimerState = Literal["pending", "running", "paused", "stopped"]


class PolicyRef(TypedDict):
    id: str
    version: int


class StageBrief(TypedDict):
    id: str
    index: int
    queue: Annotated[str, Field(description="The stage's queue in the policy (the case's own is `queue`)")]
    entered_at: datetime
    state: TimerState
    escalates_at: Annotated[datetime | None, Field(description="When the stage escalates (null: never)")]
    remaining_seconds: Annotated[float | None, Field(description="Working time left before it escalates")]


class StageView(StageBrief):
    title: str | None
    escalates_at_local: datetime | None
    is_last: bool


class ClockBrief(TypedDict):
    name: str
    state: TimerState
    due_at: Annotated[datetime | None, Field(description="UTC deadline (null when paused or stopped)")]
    remaining_seconds: Annotated[
        float | None,
        Field(
            description="Working time left before the deadline (negative once breached; null when stopped)"
        ),
    ]
    breached: bool


class ClockView(ClockBrief):
    title: str | None
    target: Annotated[str, Field(description="ISO 8601 duration for the case's current priority")]
    target_seconds: float
    due_at_local: Annotated[
        datetime | None, Field(description="The same deadline in the calendar's time zone")
    ]
    timezone: str
    paused_seconds: Annotated[float, Field(description="Working time spent paused so far")]
    warned: bool
    breached_at: datetime | None
    breached_by_seconds: Annotated[float | None, Field(description="Working time past the deadline")]
    stopped_at: datetime | None
    met: Annotated[
        bool | None, Field(description="Stopped in time (true), late (false); null while counting")
    ]


class _CaseFields(TypedDict):
    """The keys a list item and the full view share, with the same names and shapes."""

    id: str
    incident_type: str
    policy: PolicyRef
    status: str
    queue: str
    assignee: str | None
    priority: str
    priority_reason: str
    summary: Annotated[str | None, Field(description="`attributes.summary` when it is a string")]
    next_deadline_at: datetime | None
    breached: Annotated[bool, Field(description="The case has missed a deadline (a clock's or a stage's)")]
    opened_at: datetime
    updated_at: datetime
    version: int


class CaseBrief(_CaseFields):
    """An item of a listing."""

    stage: StageBrief
    clocks: list[ClockBrief]


class CaseView(_CaseFields):
    """The whole case."""

    stage: StageView
    clocks: list[ClockView]
    priority_set_by_hand: bool
    attributes: dict[str, Any]
    resolved_at: datetime | None
    escalations: int
    links: Annotated[CaseLinks, Field(description="The linked cases, each with its status and next deadline")]


#: Serialisers (``.dump_json``) and JSON Schemas of the views.
CASE_VIEW = TypeAdapter(CaseView)
CASE_BRIEFS = TypeAdapter(list[CaseBrief])


class ViewedCase(Protocol):
    """What the view reads of a case: a ``Case``, or a row of these columns
    (``case_read.read_case``)."""

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


# --- builders ---------------------------------------------------------------------------------------


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _clock_brief(clock: ClockState, calendar: BusinessCalendar, now: datetime) -> ClockBrief:
    """A clock's brief from its state (a stored clock's: ``_stored_clock_brief``)."""
    left: float | None
    if clock.breached_at is not None:
        left = -calendar.elapsed(clock.breached_at, clock.stopped_at or now).total_seconds()
    elif clock.status in (ClockStatus.STOPPED, ClockStatus.PENDING):
        left = None
    elif clock.status == ClockStatus.PAUSED or clock.due_at is None:
        left = remaining(clock, now, calendar).total_seconds()
    else:
        left = _until(calendar, now, clock.due_at)
    return {
        "name": clock.name,
        "state": cast(TimerState, str(clock.status)),
        "due_at": clock.due_at,
        "remaining_seconds": left,
        "breached": clock.breached_at is not None,
    }


def _stored_clock_brief(stored: Mapping[str, Any], calendar: BusinessCalendar, now: datetime) -> ClockBrief:
    """``_clock_brief`` of a stored clock (``sla_engine.state``'s JSON), read from its instants
    without building its state (only a paused clock's is built), since a listing shows a hundred
    a page; the instants are parsed inline, only those it needs."""
    status = stored["status"]
    due = stored["due_at"]
    due_at = None if due is None else datetime.fromisoformat(due)
    breached = stored["breached_at"]
    left: float | None
    if breached is not None:
        stopped = stored["stopped_at"]
        until = now if stopped is None else datetime.fromisoformat(stopped)
        left = -calendar.elapsed(datetime.fromisoformat(breached), until).total_seconds()
    elif status == ClockStatus.STOPPED or status == ClockStatus.PENDING:
        left = None
    elif status == ClockStatus.PAUSED or due_at is None:
        left = remaining(clock_from_dict(stored), now, calendar).total_seconds()
    elif due_at >= now:
        left = calendar.elapsed(now, due_at).total_seconds()
    else:
        left = -calendar.elapsed(due_at, now).total_seconds()
    return {
        "name": stored["name"],
        "state": status,
        "due_at": due_at,
        "remaining_seconds": left,
        "breached": breached is not None,
    }


def clock_view(clock: ClockState, title: str | None, calendar: BusinessCalendar, now: datetime) -> ClockView:
    """A clock's whole view (the simulation shows its final clocks with it too)."""
    brief = _clock_brief(clock, calendar, now)
    left = brief["remaining_seconds"]
    return {
        **brief,
        "title": title,
        "target": iso_duration(clock.target),
        "target_seconds": clock.target.total_seconds(),
        "due_at_local": _local(calendar, clock.due_at),
        "timezone": str(calendar.zone),
        "paused_seconds": meter_value(clock.paused, now, calendar).total_seconds(),
        "warned": clock.warned,
        "breached_at": clock.breached_at,
        "breached_by_seconds": None if clock.breached_at is None or left is None else -left,
        "stopped_at": clock.stopped_at,
        "met": (not clock.breached) if clock.status is ClockStatus.STOPPED else None,
    }


def _stage_brief(
    stored: Mapping[str, Any], policy: Policy, calendar: BusinessCalendar, now: datetime
) -> StageBrief:
    """The stage's brief from its stored form (parsing its meters would cost more than the rest)."""
    due_at = _instant(stored["due_at"])
    return {
        "id": stored["id"],
        "index": stored["index"],
        "queue": policy.stages[stored["index"]].queue,
        "entered_at": datetime.fromisoformat(stored["entered_at"]),
        "state": stored["status"],
        "escalates_at": due_at,
        "remaining_seconds": None if due_at is None else _until(calendar, now, due_at),
    }


def _stage_view(
    stored: Mapping[str, Any], policy: Policy, calendar: BusinessCalendar, now: datetime
) -> StageView:
    brief = _stage_brief(stored, policy, calendar, now)
    return {
        **brief,
        "title": policy.stages[brief["index"]].title,
        "escalates_at_local": _local(calendar, brief["escalates_at"]),
        "is_last": brief["index"] == len(policy.stages) - 1,
    }


def _summary(attributes: Mapping[str, Any]) -> str | None:
    summary = attributes.get("summary")
    return summary if isinstance(summary, str) else None


def case_view(
    session: Session | Connection,
    case: ViewedCase,
    now: datetime,
    breached: bool,
    policy_sha256: str | None = None,
    links: CaseLinks | None = None,
) -> CaseView:
    """The case at ``now``. ``policy_sha256``, when the caller read it with the case
    (``case_read.read_case``) or pinned it (opening), saves a query for the pinned version;
    ``links``, when the caller knows them (a case opened in this transaction has none), one for
    the linked cases."""
    policy, calendar = policy_registry.get_policy(
        session, case.policy_id, case.policy_version, sha256=policy_sha256
    )
    state = state_from_dict(case.state)
    titles = {c.name: c.title for c in policy.clocks}
    return {
        "id": case.id,
        "incident_type": case.incident_type,
        "policy": {"id": case.policy_id, "version": case.policy_version},
        "status": str(state.status),
        "stage": _stage_view(case.state["stage"], policy, calendar, now),
        "queue": state.queue,
        "assignee": state.assignee,
        "priority": state.priority,
        "priority_reason": state.priority_reason,
        "priority_set_by_hand": state.priority_override is not None,
        "summary": _summary(state.attributes),
        "attributes": dict(state.attributes),
        "clocks": [clock_view(c, titles.get(c.name), calendar, now) for c in state.clocks],
        "next_deadline_at": case.next_deadline_at,
        "opened_at": case.opened_at,
        "updated_at": case.updated_at,
        "resolved_at": case.resolved_at,
        "escalations": state.escalations,
        "breached": breached,
        "version": case.version,
        "links": linked_cases(session, case.id) if links is None else links,
    }


Pinned = tuple[str, int, str | None]


def case_briefs(session: Session | Connection, rows: Sequence[ListedCase], now: datetime) -> list[CaseBrief]:
    """The listed cases at ``now``. The session (or connection) is used only for a policy version
    not parsed yet in this process."""
    policies: dict[Pinned, tuple[Policy, BusinessCalendar]] = {}
    items: list[CaseBrief] = []
    for row in rows:
        pinned = (row.policy_id, row.policy_version, row.policy_sha256)
        if pinned not in policies:
            policies[pinned] = policy_registry.get_policy(session, *pinned[:2], sha256=pinned[2])
        policy, calendar = policies[pinned]
        items.append(
            {
                "id": row.id,
                "incident_type": row.incident_type,
                "policy": {"id": row.policy_id, "version": row.policy_version},
                "status": row.status,
                "stage": _stage_brief(row.stage, policy, calendar, now),
                "queue": row.queue,
                "assignee": row.assignee,
                "priority": row.priority,
                "priority_reason": row.priority_reason,
                "summary": row.summary,
                "clocks": [_stored_clock_brief(c, calendar, now) for c in row.clocks],
                "next_deadline_at": row.next_deadline_at,
                "breached": row.breached,
                "opened_at": row.opened_at,
                "updated_at": row.updated_at,
                "version": row.version,
            }
        )
    return items
