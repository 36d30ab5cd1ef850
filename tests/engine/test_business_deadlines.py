"""The engine on a business calendar: deadlines count working time only, pauses and priority included."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from policies.model import StageSpec
from sla_engine.business_time import BusinessCalendar
from sla_engine.cases import advance, open_case, replay
from sla_engine.kinds import EventKind
from tests.engine.builders import act, make_policy
from tests.engine.calendars_fixtures import rome_office

ROME = ZoneInfo("Europe/Rome")
OFFICE = BusinessCalendar(rome_office())
# One stage without a timer, so the tests see the clocks alone (no escalation raising the priority).
POLICY = make_policy(calendar="rome-office", stages=[StageSpec("frontline", "creator-support")])


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


def test_a_friday_evening_case_is_due_on_monday_working_time():
    # Friday 2026-03-06 17:00: one working hour left that day; first response P2 = 1h -> Friday 18:00.
    state = open_case(POLICY, OFFICE, {}, rome(2026, 3, 6, 17, 30), "a").state
    assert state.clock("first_response").due_at == rome(2026, 3, 9, 9, 30)
    # resolution P2 = 1 day = 24 working hours: 0.5 (Fri) + 9 (Mon) + 9 (Tue) + 5.5 (Wed) -> 14:30.
    assert state.clock("resolution").due_at == rome(2026, 3, 11, 14, 30)


def test_a_case_opened_on_a_holiday_starts_counting_the_next_working_morning():
    # 2026-04-25 is Liberation Day (a Saturday in 2026); 2026-05-01 Labour Day is a Friday.
    state = open_case(POLICY, OFFICE, {}, rome(2026, 5, 1, 10, 0), "a").state
    assert state.clock("first_response").due_at == rome(2026, 5, 4, 10, 0)


def test_a_pause_moves_the_deadline_by_paused_working_time_only():
    # Paused from Friday 17:00 to Monday 10:00: only 1h (Fri) + 1h (Mon) of working time passed.
    actions = [act("request_info", rome(2026, 3, 6, 17, 0)), act("creator_replied", rome(2026, 3, 9, 10, 0))]
    opened = rome(2026, 3, 6, 9, 0)
    paused = replay(POLICY, OFFICE, {}, opened, actions, rome(2026, 3, 9, 10, 0)).state
    plain = open_case(POLICY, OFFICE, {}, opened, "a").state
    assert plain.clock("resolution").due_at == rome(2026, 3, 10, 15, 0)
    assert paused.clock("resolution").due_at == rome(2026, 3, 10, 17, 0)


def test_breaches_on_a_business_calendar_carry_their_working_deadline():
    state = open_case(POLICY, OFFICE, {}, rome(2026, 3, 6, 17, 30), "a").state
    step = advance(POLICY, OFFICE, state, rome(2026, 3, 9, 12, 0))
    breach = next(e for e in step.events if e.kind == EventKind.BREACHED and e.data.get("clock"))
    assert breach.at == rome(2026, 3, 9, 9, 30)
    assert breach.data["due_at"] == rome(2026, 3, 9, 9, 30).astimezone(ZoneInfo("UTC")).isoformat()


def test_deadlines_are_exact_across_the_spring_dst_change():
    # The night of 2026-03-29 Rome moves to CEST; a Friday 17:00 case with 2h of work left is due
    # Monday 10:00 local, which is 08:00 UTC (not 09:00 as before the change).
    policy = make_policy(calendar="rome-office", first_response="PT2H", stages=POLICY.stages)
    state = open_case(policy, OFFICE, {}, rome(2026, 3, 27, 17, 0), "a").state
    due = state.clock("first_response").due_at
    assert due == rome(2026, 3, 30, 10, 0)
    assert due is not None and due.utcoffset() is not None and due.astimezone(ZoneInfo("UTC")).hour == 8
