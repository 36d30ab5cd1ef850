"""The compliance report against a small fixture computed by hand.

Test policy (tests/engine/builders.make_policy with the partner rule), calendar ``always``:
first_response P1 15 min / P2 1 h (stops on acknowledged), resolution P1 8 h / P2 1 d (pauses while
waiting_on_creator), stage frontline P1 30 min / P2 2 h, then security (4 h).

Period 09:00-11:00 on 2026-03-02. Cases (all account_compromised, policy test-policy v1):
- A (P1) opened 09:00, acknowledged 09:10, request_info 09:20, creator_replied 09:50, resolved 10:20.
  first_response met: 600 s working, 600 s wall. resolution met: 80 min open - 30 min paused =
  3000 s working, 4800 s wall. frontline ran 20 min, paused 30, due at 10:00: escalated to security
  automatically (fired by the resolve at 10:20, at 10:00).
- B (P1) opened 09:05, acknowledged 09:25 (first_response breached at 09:20): 1200 s working and
  wall. Resolved 09:30: resolution met, 1500 s working and wall.
- C (P2) opened 09:00, escalated by hand to security at 09:30, acknowledged 09:40: first_response
  met, 2400 s. Resolution still running (pending).
- D (P2) opened 10:00, swept at 11:30: first_response breached at 11:00 (no stop). Resolution pending.
- E (P1) opened the day before: outside the period.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from casework.reports.compliance_report import GroupBy, compliance_report
from models.db import session_scope
from tests.audit.conftest import act, register_p1, sweep
from tests.casework.builders import CREATOR, at, open_one

STANDARD = {**CREATOR, "creator": {**CREATOR["creator"], "tier": "standard"}}  # type: ignore[dict-item]


@pytest.fixture
def hand_fixture(engine: Engine) -> None:
    register_p1(engine)
    open_one(engine, now=at(hours=-20))  # E: outside the period
    a = open_one(engine, now=at(0)).case.id
    c = open_one(engine, now=at(0), attributes=STANDARD).case.id
    b = open_one(engine, now=at(5)).case.id
    act(engine, a, "acknowledge", at(10))
    act(engine, a, "request_info", at(20))
    act(engine, b, "acknowledge", at(25))
    act(engine, b, "resolve", at(30))
    act(engine, c, "escalate", at(30))
    act(engine, c, "acknowledge", at(40))
    act(engine, a, "creator_replied", at(50))
    d = open_one(engine, now=at(60), attributes=STANDARD).case.id
    act(engine, a, "resolve", at(80))
    sweep(engine, [d], at(150))


def report(engine: Engine, group_by: GroupBy) -> dict[str, Any]:
    with session_scope(engine, write=False) as session:
        return compliance_report(session, at(0), at(120), group_by)


def test_by_priority_matches_the_hand_computation(engine: Engine, hand_fixture: None) -> None:
    result = report(engine, GroupBy.PRIORITY)

    assert result["clocks"] == ["first_response", "resolution"]
    p1, p2 = result["groups"]
    assert (p1["key"], p1["cases"], p2["key"], p2["cases"]) == ("P1", 2, "P2", 2)
    # P1 first_response: A met (600 s), B breached (1200 s): 1 of 2 = 50 %.
    # median of [600, 1200] = 900; p90 at position 0.9 = 600 + 0.9 x 600 = 1140.
    assert p1["clocks"]["first_response"] == {
        "met": 1, "breached": 1, "pending": 0, "percent_met": 50.0,
        "working_seconds": {"median": 900.0, "p90": 1140.0},
        "wall_seconds": {"median": 900.0, "p90": 1140.0},
        "cycles": 0, "missed_cycles": 0,
    }  # fmt: skip
    # P1 resolution: A (3000 working, 4800 wall) and B (1500, 1500) both met.
    # working [1500, 3000]: median 2250, p90 1500 + 0.9 x 1500 = 2850.
    # wall [1500, 4800]: median 3150, p90 1500 + 0.9 x 3300 = 4470.
    assert p1["clocks"]["resolution"] == {
        "met": 2, "breached": 0, "pending": 0, "percent_met": 100.0,
        "working_seconds": {"median": 2250.0, "p90": 2850.0},
        "wall_seconds": {"median": 3150.0, "p90": 4470.0},
        "cycles": 0, "missed_cycles": 0,
    }  # fmt: skip
    assert (p1["escalations"], p1["manual_escalations"]) == ({"security": 1}, {})
    # P2 first_response: C met at 2400 s, D breached without stopping: 50 %, times from C only.
    assert p2["clocks"]["first_response"] == {
        "met": 1, "breached": 1, "pending": 0, "percent_met": 50.0,
        "working_seconds": {"median": 2400.0, "p90": 2400.0},
        "wall_seconds": {"median": 2400.0, "p90": 2400.0},
        "cycles": 0, "missed_cycles": 0,
    }  # fmt: skip
    # P2 resolution: both still running; nothing decided, no times.
    assert p2["clocks"]["resolution"] == {
        "met": 0, "breached": 0, "pending": 2, "percent_met": None,
        "working_seconds": {"median": None, "p90": None},
        "wall_seconds": {"median": None, "p90": None},
        "cycles": 0, "missed_cycles": 0,
    }  # fmt: skip
    assert (p2["escalations"], p2["manual_escalations"]) == ({"security": 1}, {"security": 1})


def test_by_incident_type_pools_every_case(engine: Engine, hand_fixture: None) -> None:
    [group] = report(engine, GroupBy.INCIDENT_TYPE)["groups"]

    assert (group["key"], group["cases"]) == ("account_compromised", 4)
    first = group["clocks"]["first_response"]
    # met A, C; breached B, D: 50 %. Times [600, 1200, 2400]: median 1200;
    # p90 at position 2 x 0.9 = 1.8: 1200 + 0.8 x (2400 - 1200) = 2160.
    assert (first["met"], first["breached"], first["percent_met"]) == (2, 2, 50.0)
    assert first["working_seconds"] == {"median": 1200.0, "p90": 2160.0}
    assert group["clocks"]["resolution"]["percent_met"] == 100.0
    assert (group["escalations"], group["manual_escalations"]) == ({"security": 2}, {"security": 1})


def test_by_queue_and_policy_version(engine: Engine, hand_fixture: None) -> None:
    by_queue = {g["key"]: g["cases"] for g in report(engine, GroupBy.QUEUE)["groups"]}
    by_version = {g["key"]: g["cases"] for g in report(engine, GroupBy.POLICY_VERSION)["groups"]}

    # A and C were escalated to security; B and D stayed on the frontline queue.
    assert by_queue == {"creator-support": 2, "security-specialists": 2}
    assert by_version == {"test-policy v1": 4}


def test_an_empty_period_has_no_groups(engine: Engine, hand_fixture: None) -> None:
    with session_scope(engine, write=False) as session:
        result = compliance_report(session, at(hours=30), at(hours=30) + timedelta(days=1), GroupBy.PRIORITY)
    assert result["groups"] == []
