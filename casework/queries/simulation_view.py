"""What a simulation shows, built once for both front ends: ``POST /v1/policies/{id}/simulate`` and
``lifeline policies simulate --format json`` answer the same ``SimulationView`` for the same policy
and input, serialised by the same ``SIMULATION_VIEW`` adapter (so even the instants are spelled the
same way).

``policy.version`` is the registered version simulated, or null for a file (the CLI) or a draft
sent in the request body. The timeline is in time order; each entry has its instant in UTC and in
the calendar's zone; ``clocks`` are the case's clocks as the case view shows them at ``until``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, NotRequired

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from casework.queries.case_view import ClockView, clock_view
from policies.model import Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.simulation import Simulation, timeline_entry


class SimulatedPolicy(TypedDict):
    id: str
    version: Annotated[int | None, Field(description="The registered version; null for a file or a draft")]


class TimelineEntry(TypedDict):
    at: datetime
    at_local: datetime
    kind: str
    clock: NotRequired[str]
    stage: NotRequired[str]
    detail: str
    actor: str


class SimulationView(TypedDict):
    policy: SimulatedPolicy
    timezone: str
    until: datetime
    timeline: list[TimelineEntry]
    final_status: str
    final_stage: str
    final_priority: str
    clocks: list[ClockView]


SIMULATION_VIEW = TypeAdapter(SimulationView)


def simulation_view(
    policy: Policy, calendar: BusinessCalendar, run: Simulation, version: int | None
) -> SimulationView:
    """The view of ``run`` (a simulation of ``policy`` on ``calendar``)."""
    titles = {c.name: c.title for c in policy.clocks}
    timeline: list[TimelineEntry] = []
    for event in sorted(run.events, key=lambda e: e.at):
        raw = timeline_entry(event)
        entry: TimelineEntry = {
            "at": event.at.astimezone(UTC),
            "at_local": calendar.local(event.at),
            "kind": raw["kind"],
            "detail": raw["detail"],
            "actor": raw["actor"],
        }
        if "clock" in raw:
            entry["clock"] = raw["clock"]
        elif "stage" in raw:
            entry["stage"] = raw["stage"]
        timeline.append(entry)
    return {
        "policy": {"id": policy.id, "version": version},
        "timezone": str(calendar.zone),
        "until": run.until.astimezone(UTC),
        "timeline": timeline,
        "final_status": str(run.state.status),
        "final_stage": run.state.stage.id,
        "final_priority": run.state.priority,
        "clocks": [clock_view(c, titles.get(c.name), calendar, run.until) for c in run.state.clocks],
    }
