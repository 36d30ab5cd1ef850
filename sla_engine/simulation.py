"""Simulation: what a policy would do to a case, as a timeline people and scripts can read.

Used by ``lifeline policies simulate`` and ``POST /v1/policies/{id}/simulate``. Input parsing lives
here too (plain values in, ``SimulationInputError`` with a JSON pointer out), so both front ends give
the same errors for the same bad input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from policies.model import Policy
from sla_engine.agent_actions import InvalidAction
from sla_engine.business_time import BusinessCalendar
from sla_engine.cases import OPENING_STATUSES, advance, apply_action, open_case
from sla_engine.events import AgentAction, EngineEvent
from sla_engine.kinds import ActionName, Status
from sla_engine.sentences import describe
from sla_engine.state import CaseState
from sla_engine.transitions import ForbiddenTransition

#: How far a simulation runs when no end is given and timers keep coming (a repeating last stage).
HORIZON = timedelta(days=90)


class SimulationInputError(ValueError):
    """Bad simulation input; ``pointer`` is the JSON pointer of the offending value."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer or '/'}: {message}")
        self.pointer = pointer
        self.message = message


@dataclass(frozen=True)
class Simulation:
    events: Sequence[EngineEvent]
    state: CaseState
    until: datetime


def parse_instant(value: Any, pointer: str) -> datetime:
    if not isinstance(value, str):
        raise SimulationInputError(pointer, "expected an ISO 8601 date-time string")
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SimulationInputError(pointer, f"{value!r} is not an ISO 8601 date-time") from None
    if instant.tzinfo is None:
        raise SimulationInputError(pointer, f"{value!r} has no UTC offset (add Z or +01:00)")
    return instant


def parse_case(raw: Any) -> tuple[datetime, Mapping[str, Any]]:
    """``{"opened_at": ISO, "attributes": {...}, "status": ...}`` -> (opened_at, attributes); the
    optional status is read by ``opening_status``."""
    if not isinstance(raw, Mapping):
        raise SimulationInputError("", "a case is an object with opened_at and attributes")
    unknown = sorted(set(raw) - {"opened_at", "attributes", "status"})
    if unknown:
        raise SimulationInputError(f"/{unknown[0]}", "unknown field (expected opened_at, attributes, status)")
    opening_status(raw)
    if "opened_at" not in raw:
        raise SimulationInputError("/opened_at", "required")
    attributes = raw.get("attributes", {})
    if not isinstance(attributes, Mapping):
        raise SimulationInputError("/attributes", "expected an object")
    return parse_instant(raw["opened_at"], "/opened_at"), attributes


def opening_status(raw: Mapping[str, Any]) -> Status:
    """The status a simulated case opens in: ``open`` (default) or ``waiting_on_creator``."""
    value = raw.get("status", Status.OPEN)
    allowed = ", ".join(OPENING_STATUSES)
    if value not in OPENING_STATUSES:
        raise SimulationInputError("/status", f"a case opens as one of {allowed}, not {value!r}")
    return Status(value)


def parse_actions(raw: Any) -> list[AgentAction]:
    """``[{"at": ISO, "action": name, ...arguments}]`` -> agent actions, in the given order."""
    if not isinstance(raw, list):
        raise SimulationInputError("", "actions are a JSON array")
    names = ", ".join(a.value for a in ActionName)
    actions: list[AgentAction] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise SimulationInputError(f"/{i}", "an action is an object with at and action")
        if "action" not in item:
            raise SimulationInputError(f"/{i}/action", "required")
        try:
            name = ActionName(item["action"])
        except ValueError:
            raise SimulationInputError(
                f"/{i}/action", f"unknown action {item['action']!r}; one of {names}"
            ) from None
        if "at" not in item:
            raise SimulationInputError(f"/{i}/at", "required")
        at = parse_instant(item["at"], f"/{i}/at")
        if actions and at < actions[-1].at:
            raise SimulationInputError(f"/{i}/at", "actions must be in time order")
        actor = str(item.get("actor", "agent:simulated"))
        args = {k: v for k, v in item.items() if k not in {"at", "action", "actor"}}
        actions.append(AgentAction(name, at, actor, args))
    return actions


def simulate(
    policy: Policy,
    calendar: BusinessCalendar,
    opened_at: datetime,
    attributes: Mapping[str, Any],
    actions: Sequence[AgentAction],
    until: datetime | None = None,
    status: Status = Status.OPEN,
) -> Simulation:
    """Open the case, apply ``actions`` and let the timers run to ``until`` (default: until no timer
    is pending, at most 90 days after opening). Raises the engine's errors for a bad action, with
    the action's index in ``SimulationInputError``."""
    step = open_case(policy, calendar, attributes, opened_at, "agent:simulated", status)
    state, events = step.state, list(step.events)
    for i, action in enumerate(actions):
        if until is not None and action.at > until:
            break
        try:
            step = apply_action(policy, calendar, state, action)
        except InvalidAction as err:
            raise SimulationInputError(f"/{i}/{err.field or ''}".rstrip("/"), str(err)) from None
        except ForbiddenTransition as err:
            raise SimulationInputError(f"/{i}/action", str(err)) from None
        state, events = step.state, events + list(step.events)
    if until is not None:
        step = advance(policy, calendar, state, until)
        return Simulation(events + list(step.events), step.state, until)
    return _run_until_quiet(policy, calendar, state, events, opened_at + HORIZON)


def _run_until_quiet(
    policy: Policy, calendar: BusinessCalendar, state: CaseState, events: list[EngineEvent], cap: datetime
) -> Simulation:
    """Fire timers one deadline at a time until none is pending or the next lies past ``cap``."""
    end = state.updated_at
    while (due := state.next_deadline_at) is not None and due <= cap:
        step = advance(policy, calendar, state, due)
        state, events, end = step.state, events + list(step.events), due
    if state.next_deadline_at is not None:
        step = advance(policy, calendar, state, cap)
        state, events, end = step.state, events + list(step.events), cap
    return Simulation(events, state, end)


def timeline_entry(event: EngineEvent) -> dict[str, Any]:
    """The JSON form of one timeline row: at, kind, clock or stage, detail, actor."""
    entry: dict[str, Any] = {"at": event.at.astimezone(UTC).isoformat(), "kind": str(event.kind)}
    if "clock" in event.data:
        entry["clock"] = event.data["clock"]
    elif "stage" in event.data:
        entry["stage"] = event.data["stage"]
    entry["detail"] = describe(event)
    entry["actor"] = event.actor
    return entry
