"""Scenario builders for engine tests: small policies built from plain values, and a clock helper."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from policies.durations import parse_duration
from policies.model import (
    ALWAYS,
    ActionKind,
    Calendar,
    ClockSpec,
    Compare,
    NotAfter,
    Op,
    Policy,
    PolicyAction,
    PriorityPolicy,
    PriorityRule,
    StageSpec,
    Target,
)
from sla_engine.agent_actions import InvalidAction
from sla_engine.business_time import BusinessCalendar
from sla_engine.events import AgentAction
from sla_engine.kinds import ActionName

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday

#: A standard-tier creator: no priority rule of `make_policy` matches, so the default applies.
STANDARD = {"creator": {"tier": "standard"}}


def at(minutes: float = 0, hours: float = 0, days: float = 0, base: datetime = T0) -> datetime:
    return base + timedelta(minutes=minutes, hours=hours, days=days)


def target(spec: str | Mapping[str, str]) -> Target:
    if isinstance(spec, str):
        return Target(single=duration(spec))
    return Target(by_priority={p: duration(d) for p, d in spec.items()})


def duration(text: str) -> timedelta:
    """An ISO 8601 duration, parsed as the policy loader parses it."""
    return parse_duration(text)


def notify(channel: str) -> PolicyAction:
    return PolicyAction(ActionKind.NOTIFY, channel)


def set_priority(p: str) -> PolicyAction:
    return PolicyAction(ActionKind.SET_PRIORITY, p)


def make_policy(
    *,
    first_response: str | Mapping[str, str] = {"P1": "PT15M", "P2": "PT1H", "P3": "PT4H"},
    resolution: str | Mapping[str, str] = {"P1": "PT8H", "P2": "P1D", "P3": "P3D"},
    warn_at: float | None = 0.75,
    not_after: NotAfter | None = None,
    stages: Sequence[StageSpec] | None = None,
    calendar: str = "always",
    rules: Sequence[PriorityRule] = (),
) -> Policy:
    """A policy shaped like the bundled account_compromised one, with overridable parts."""
    if stages is None:
        stages = (
            StageSpec("frontline", "creator-support", target({"P1": "PT30M", "P2": "PT2H", "P3": "PT8H"})),
            StageSpec(
                "security", "security-specialists", target("PT4H"), on_enter=(notify("security-oncall"),)
            ),
            StageSpec(
                "lead",
                "tns-leads",
                None,
                on_enter=(notify("tns-leads"), set_priority("P1")),
                repeat_notify_every=duration("PT2H"),
            ),
        )
    clocks = (
        ClockSpec(
            "first_response",
            target(first_response),
            stops_on=frozenset({"acknowledged"}),
            warn_at=warn_at,
            on_breach=(notify("support-leads"),),
        ),
        ClockSpec(
            "resolution",
            target(resolution),
            stops_on=frozenset({"resolved"}),
            pauses_on=frozenset({"waiting_on_creator"}),
            not_after=not_after,
            on_breach=(notify("partner-managers"),),
        ),
    )
    return Policy(
        id="test-policy",
        title="Test policy",
        incident_type="account_compromised",
        calendar=calendar,
        priority=PriorityPolicy("P2", tuple(rules)),
        clocks=clocks,
        stages=tuple(stages),
    )


PARTNER_RULE = PriorityRule(
    Compare("creator.tier", Op.IN, ("partner", "top")), "P1", 0, "partner or top creator"
)

ALWAYS_CAL = BusinessCalendar(ALWAYS)


def business(calendar: Calendar) -> BusinessCalendar:
    return BusinessCalendar(calendar)


def act(name: str, when: datetime, actor: str = "agent:ana", **args: Any) -> AgentAction:
    return AgentAction(ActionName(name), when, actor, args)


def refusal(call: Callable[[], object]) -> tuple[str, str | None]:
    """The message and the field of the ``InvalidAction`` that ``call`` raises; AssertionError when
    it is not refused."""
    try:
        call()
    except InvalidAction as err:
        return str(err), err.field
    raise AssertionError("the call was not refused")
