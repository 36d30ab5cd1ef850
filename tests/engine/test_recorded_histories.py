"""What the engine records, field for field, for every scenario and a few richer histories.

tests/engine/scenarios/*.json check the timelines a person worked out by hand, in words. What the
history actually stores is more: each event's actor, its full ``data`` (what the audit export, the
webhooks and the replay read) and its ``dedupe_key``, which is what makes an escalation exactly-once
*across versions of Lifeline*: a timer whose key changed between releases would fire a second time on
a case opened under the old one. This test replays the same inputs (and those of
``recorded/extra_histories.json``) through the engine and compares every event and the final state
with ``recorded/histories.json``.

A deliberate change to what the engine records (a new data field, a new event) is re-recorded with

    LIFELINE_RECORD_HISTORIES=1 .venv/bin/pytest tests/engine/test_recorded_histories.py

and the diff of ``recorded/histories.json`` is reviewed like code: a dedupe key that moves is a
migration concern, not a snapshot to accept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from policies.loader import bundled_policies_dir, calendars_for, check_policy_file
from sla_engine.business_time import BusinessCalendar
from sla_engine.events import EngineEvent
from sla_engine.simulation import opening_status, parse_actions, parse_case, parse_instant, simulate
from sla_engine.state import state_to_dict

HERE = Path(__file__).parent
RECORDED = HERE / "recorded" / "histories.json"
RECORDING = os.environ.get("LIFELINE_RECORD_HISTORIES") == "1"


def _inputs() -> dict[str, dict[str, Any]]:
    histories = {p.stem: json.loads(p.read_text()) for p in sorted((HERE / "scenarios").glob("*.json"))}
    extra = json.loads((HERE / "recorded" / "extra_histories.json").read_text())["histories"]
    return {**histories, **extra}


INPUTS = _inputs()


def _event(event: EngineEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "kind": str(event.kind),
        "actor": event.actor,
        "data": json.loads(json.dumps(event.data)),
        "dedupe_key": event.dedupe_key,
    }


def record(history: dict[str, Any]) -> dict[str, Any]:
    """The events and final state the engine gives ``history`` (a scenario's inputs), JSON-ready."""
    path = bundled_policies_dir() / history["policy"]
    calendars, _ = calendars_for(path.parent.resolve())
    policy = check_policy_file(path, calendars, label=str(path)).value
    assert policy is not None
    opened_at, attributes = parse_case(history["case"])
    until = parse_instant(history["until"], "/until") if "until" in history else None
    run = simulate(
        policy,
        BusinessCalendar(calendars[policy.calendar]),
        opened_at,
        attributes,
        parse_actions(history["actions"]),
        until,
        opening_status(history["case"]),
    )
    return {
        "events": [_event(e) for e in run.events],
        "state": json.loads(json.dumps(state_to_dict(run.state))),
    }


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    if RECORDING:
        RECORDED.write_text(json.dumps({name: record(h) for name, h in INPUTS.items()}, indent=1) + "\n")
    return dict(json.loads(RECORDED.read_text()))


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_the_engine_records_what_it_recorded_before(name: str, recorded: dict[str, Any]) -> None:
    now = record(INPUTS[name])
    before = recorded[name]
    for i, (got, wanted) in enumerate(zip(now["events"], before["events"], strict=False)):
        assert got == wanted, f"event {i} ({wanted['kind']} at {wanted['at']}) differs"
    assert len(now["events"]) == len(before["events"])
    assert now["state"] == before["state"]


def test_every_input_is_recorded_and_nothing_else() -> None:
    assert sorted(json.loads(RECORDED.read_text())) == sorted(INPUTS)
