"""Deadlines asserted by other help desks' own test suites, ported as data (tests/engine/peers/*.json):
each case names its source file, its inputs (local wall times of the peer's calendar) and the
peer's asserted result. Lifeline must give the same answer, except where a case records a
``difference`` (a documented semantic difference, see docs/policy-language.md, "Compared with other
help desks"): there the test asserts Lifeline's own exact value and that it differs as described.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from policies.calendars import build_calendar
from policies.loader import check_policy_document
from sla_engine.business_time import BusinessCalendar
from sla_engine.cases import replay
from sla_engine.events import AgentAction
from sla_engine.kinds import ActionName

PEERS = sorted((Path(__file__).parent / "peers").glob("*.json"))
FILES = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in PEERS}
CASES = [(stem, case) for stem, doc in FILES.items() for case in doc["cases"]]


def _calendar(stem: str) -> BusinessCalendar:
    return BusinessCalendar(build_calendar(FILES[stem]["calendar"]))


def _local(stem: str, text: str) -> datetime:
    zone = ZoneInfo(FILES[stem]["calendar"]["timezone"])
    return datetime.fromisoformat(text).replace(tzinfo=zone)


#: Where a ``clock`` case's ticket opens (any Monday; the peers' 24/7 calendars make it immaterial).
OPENED = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _clock_case(stem: str, case: dict[str, Any]) -> None:
    """A ``clock`` case: one clock on the peer's calendar, the ticket's life replayed as actions."""
    doc = {
        "id": "peer",
        "title": "peer",
        "incident_type": "peer",
        "calendar": "peer",
        "priority": {"default": "P2"},
        "clocks": {"clock": case["clock"]},
        "stages": [{"id": "only", "queue": "peer"}],
    }
    calendars = {"peer": replace(build_calendar(FILES[stem]["calendar"]), name="peer")}
    result = check_policy_document(doc, f"{stem}.json", calendars)
    assert result.value is not None, result.diagnostics
    actions = [
        AgentAction(
            ActionName(a["action"]),
            OPENED + timedelta(minutes=a["at_minutes"]),
            "agent:peer",
            {k: v for k, v in a.items() if k not in ("action", "at_minutes")},
        )
        for a in case["actions"]
    ]
    step = replay(result.value, _calendar(stem), {}, OPENED, actions, actions[-1].at)
    clock = step.state.clock("clock")
    if "expected_due_minutes" in case:
        assert clock.due_at == OPENED + timedelta(minutes=case["expected_due_minutes"])
    else:
        assert clock.meter.elapsed.total_seconds() == case["expected_elapsed_seconds"]


@pytest.mark.parametrize(("stem", "case"), CASES, ids=[f"{s}:{c['name']}" for s, c in CASES])
def test_lifeline_gives_the_peer_s_deadline(stem: str, case: dict[str, Any]) -> None:
    if case["op"] == "clock":
        _clock_case(stem, case)
        return
    calendar = _calendar(stem)
    start = _local(stem, case["start"])
    if case["op"] == "add":
        due = calendar.add(start, timedelta(seconds=case["duration_seconds"]))
        assert due == _local(stem, case["expected"]).astimezone(UTC)
        if "expected_epoch" in case:
            assert due.timestamp() == case["expected_epoch"]
        return
    worked = calendar.elapsed(start, _local(stem, case["end"])).total_seconds()
    if "difference" in case:
        # Lifeline's exact value, which the peer's rounding brings to the peer's assertion.
        assert worked == case["lifeline_seconds"], case["difference"]
        assert worked // 60 * 60 == case["expected_seconds"], case["difference"]
    else:
        assert worked == case["expected_seconds"]


def test_at_least_twenty_peer_cases_each_with_its_source() -> None:
    assert len(CASES) >= 20
    assert all(case["source"] for _, case in CASES)
