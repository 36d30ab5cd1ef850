"""``refresh`` recomputes every deadline after each step; what it leaves as it was stays the very same
object (the sweep refreshes a case's clocks several times per escalation), and what it stores is what
recomputing gives, to the offset: an equal instant written in another zone is replaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sla_engine.cases import open_case
from sla_engine.deadlines import _same, refresh
from sla_engine.frozen import replace
from sla_engine.state import CaseState, state_to_dict
from tests.engine.builders import ALWAYS_CAL, T0, make_policy

POLICY = make_policy()


def opened() -> CaseState:
    return open_case(POLICY, ALWAYS_CAL, {"creator": {"tier": "standard"}}, T0, "agent:ana").state


def test_a_refresh_that_changes_nothing_gives_back_the_same_state() -> None:
    state = opened()
    again = refresh(POLICY, state, ALWAYS_CAL)
    assert again is state


def test_a_changed_deadline_is_replaced_and_the_untouched_clock_kept() -> None:
    state = opened()
    first, resolution = state.clocks
    assert first.due_at is not None
    moved = replace(state, clocks=(replace(first, due_at=first.due_at + timedelta(minutes=5)), resolution))
    again = refresh(POLICY, moved, ALWAYS_CAL)
    assert again.clocks[0].due_at == first.due_at  # recomputed from its meter
    assert again.clocks[1] is resolution


def test_an_equal_instant_in_another_zone_is_stored_as_recomputing_writes_it() -> None:
    state = opened()
    first, resolution = state.clocks
    assert first.due_at is not None and first.due_at.tzinfo is UTC
    elsewhere = first.due_at.astimezone(timezone(timedelta(hours=2)))  # the same instant, +02:00
    moved = replace(state, clocks=(replace(first, due_at=elsewhere), resolution))
    again = refresh(POLICY, moved, ALWAYS_CAL)
    assert state_to_dict(again) == state_to_dict(state)
    assert state_to_dict(again)["clocks"][0]["due_at"].endswith("+00:00")


def test_the_repeated_hour_of_a_dst_change_is_not_taken_for_the_same_instant() -> None:
    """In one zone two datetimes compare by wall time: 02:30 before and after the clocks go back
    compare equal, an hour apart. The one recomputing gives is kept."""
    rome = ZoneInfo("Europe/Rome")
    first, second = (datetime(2026, 10, 25, 2, 30, tzinfo=rome, fold=f) for f in (0, 1))
    assert first == second and first.utcoffset() != second.utcoffset()
    assert not _same(first, second)
    assert _same(second, second.replace())
