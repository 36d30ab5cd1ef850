"""Properties of the v2 calendars and cycle clocks across DST changes (hypothesis), in zones whose
changes differ: Europe/Rome (02:00 -> 03:00), America/Sao_Paulo (a midnight that does not exist,
2015-2019), Asia/Tehran (midnight changes, 2017-2022) and Australia/Sydney (southern hemisphere).

The calendars use v2 features (hours to the second, an end at 24:00, a yearly holiday, a special
half day); instants are drawn near each zone's changes half the time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from policies.loader import check_policy_document
from policies.model import Calendar, DayRule, Policy, WorkingInterval
from sla_engine.business_time import BusinessCalendar
from sla_engine.cases import replay
from sla_engine.events import AgentAction
from sla_engine.kinds import ActionName, EventKind
from tests.engine.calendars_fixtures import PROPERTY_SETTINGS

DAY_SECONDS = 86_400
#: Zone -> the years in which it changed its clocks (Brazil stopped in 2019, Iran in 2022).
ZONES = {
    "Europe/Rome": range(2024, 2028),
    "America/Sao_Paulo": range(2015, 2020),
    "Asia/Tehran": range(2017, 2023),
    "Australia/Sydney": range(2024, 2028),
}


def _interval(start: str, end: str) -> WorkingInterval:
    return WorkingInterval(time.fromisoformat(start), time(0) if end == "24:00" else time.fromisoformat(end))


def v2_calendar(zone: str) -> Calendar:
    """Every day 00:00-12:00:30 and 13:00-24:00; Christmas closed every year, Christmas Eve a
    morning only."""
    day = (_interval("00:00", "12:00:30"), _interval("13:00", "24:00"))
    return Calendar(
        name=f"v2-{zone}",
        timezone=zone,
        weekly=tuple(day for _ in range(7)),
        day_rules=(DayRule(12, 25), DayRule(12, 24, hours=(_interval("00:00", "12:00"),))),
    )


CALENDARS = {zone: BusinessCalendar(v2_calendar(zone)) for zone in ZONES}


def _changes(zone: str, years: range) -> list[date]:
    tz = ZoneInfo(zone)
    days = []
    for year in years:
        day = date(year, 1, 1)
        while day.year == year:
            start = datetime.combine(day, time(12), tzinfo=tz).utcoffset()
            if start != datetime.combine(day + timedelta(days=1), time(12), tzinfo=tz).utcoffset():
                days.append(day)
            day += timedelta(days=1)
    return days


CHANGES = {zone: _changes(zone, years) for zone, years in ZONES.items()}


@st.composite
def zone_and_instants(draw: st.DrawFn, count: int) -> tuple[str, list[datetime]]:
    zone = draw(st.sampled_from(sorted(ZONES)))
    years = ZONES[zone]
    near = st.builds(
        lambda day, s: datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=s),
        st.sampled_from(CHANGES[zone]),
        st.integers(-2 * DAY_SECONDS, 2 * DAY_SECONDS),
    )
    anywhere = st.builds(
        lambda s: datetime(years.start, 1, 1, tzinfo=UTC) + timedelta(seconds=s),
        st.integers(0, len(years) * 365 * DAY_SECONDS),
    )
    instants = draw(st.lists(st.one_of(near, anywhere), min_size=count, max_size=count))
    return zone, sorted(instants)


@PROPERTY_SETTINGS
@given(zone_and_instants(3))
def test_v2_calendars_are_additive_across_dst(drawn: tuple[str, list[datetime]]) -> None:
    zone, (a, b, c) = drawn
    calendar = CALENDARS[zone]
    assert calendar.elapsed(a, b) + calendar.elapsed(b, c) == calendar.elapsed(a, c)


@PROPERTY_SETTINGS
@given(zone_and_instants(1), st.integers(0, 3 * DAY_SECONDS))
def test_v2_add_and_elapsed_are_inverse_across_dst(drawn: tuple[str, list[datetime]], seconds: int) -> None:
    zone, (start,) = drawn
    calendar = CALENDARS[zone]
    duration = timedelta(seconds=seconds)
    due = calendar.add(start, duration)
    assert calendar.elapsed(start, due) == duration
    assert due >= start


LUNCH = timedelta(minutes=59, seconds=30)  # 12:00:30-13:00, never touched by a DST change


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight as an instant; a midnight that does not exist (São Paulo, Tehran) is the
    change itself (PEP 495: fold=0 reads a missing time with the offset before the change)."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


@PROPERTY_SETTINGS
@given(st.sampled_from(sorted(ZONES)), st.integers(0, 5))
def test_a_day_s_working_time_is_its_real_hours(zone: str, years_in: int) -> None:
    """A whole local day counts the real seconds of its intervals (23 or 25 h less lunch on a change
    day), Christmas Eve its real morning, Christmas nothing."""
    calendar, tz = CALENDARS[zone], ZoneInfo(zone)
    year = ZONES[zone].start + years_in % len(ZONES[zone])
    for day in [*CHANGES[zone], date(year, 7, 1)]:
        start, end = _midnight(day, tz), _midnight(day + timedelta(days=1), tz)
        assert calendar.elapsed(start, end) == end - start - LUNCH, (zone, day)
    eve = date(year, 12, 24)
    noon = datetime.combine(eve, time(12), tzinfo=tz).astimezone(UTC)
    assert calendar.elapsed(_midnight(eve, tz), _midnight(eve + timedelta(days=1), tz)) == noon - _midnight(
        eve, tz
    )
    christmas = date(year, 12, 25)
    assert calendar.elapsed(
        _midnight(christmas, tz), _midnight(christmas + timedelta(days=1), tz)
    ) == timedelta(0)


# --- cycle clocks ----------------------------------------------------------------------------------


def _policy(kind: str, target_minutes: int, zone: str) -> tuple[Policy, BusinessCalendar]:
    doc: dict[str, Any] = {
        "id": "cycles",
        "title": "cycles",
        "incident_type": "cycles",
        "calendar": "v2",
        "priority": {"default": "P2"},
        "clocks": {"reply": {"kind": kind, "target": f"PT{target_minutes}M"}},
        "stages": [{"id": "only", "queue": "desk"}],
    }
    result = check_policy_document(doc, "cycles.json", {"v2": v2_calendar(zone)})
    assert result.value is not None, result.diagnostics
    return result.value, CALENDARS[zone]


@PROPERTY_SETTINGS
@given(
    zone_and_instants(1),
    st.integers(10, 600),
    st.lists(st.integers(60, 2 * DAY_SECONDS), min_size=1, max_size=8),
)
def test_next_reply_cycles_breach_at_their_own_deadlines_across_dst(
    drawn: tuple[str, list[datetime]], target_minutes: int, gaps: list[int]
) -> None:
    zone, (opened,) = drawn
    policy, calendar = _policy("next_reply", target_minutes, zone)
    target = timedelta(minutes=target_minutes)
    at, actions = opened, []
    for i, gap in enumerate(gaps):  # replies and creator messages alternate, a reply first
        at += timedelta(seconds=gap)
        name = ActionName.REPLY if i % 2 == 0 else ActionName.CREATOR_REPLIED
        actions.append(AgentAction(name, at, "agent:ana", {"message": "hi"} if i % 2 == 0 else {}))
    end = at + timedelta(days=3)
    step = replay(policy, calendar, {}, opened, actions, end)

    starts = [opened] + [a.at for a in actions if a.name is ActionName.CREATOR_REPLIED]
    stops: list[datetime | None] = [a.at for a in actions if a.name is ActionName.REPLY]
    stops += [None] * (len(starts) - len(stops))
    expected_breaches = []
    expected_stops = []
    for start, stop in zip(starts, stops, strict=True):
        due = calendar.add(start, target)
        if (stop if stop is not None else end) >= due:
            expected_breaches.append(due)
        if stop is not None:
            expected_stops.append(calendar.elapsed(start, stop).total_seconds())
    clock_events = [e for e in step.events if e.data.get("clock") == "reply"]
    assert [e.at for e in clock_events if e.kind is EventKind.BREACHED] == expected_breaches
    assert [e.data["elapsed"] for e in clock_events if e.kind is EventKind.CLOCK_STOPPED] == expected_stops
    assert step.state.clock("reply").cycle == len(starts)
    assert step.state.clock("reply").missed == len(expected_breaches)


@PROPERTY_SETTINGS
@given(
    zone_and_instants(1),
    st.integers(10, 600),
    st.lists(st.integers(60, DAY_SECONDS), min_size=0, max_size=6),
)
def test_periodic_updates_are_due_a_target_after_the_last_update_across_dst(
    drawn: tuple[str, list[datetime]], target_minutes: int, gaps: list[int]
) -> None:
    zone, (opened,) = drawn
    policy, calendar = _policy("periodic_update", target_minutes, zone)
    target = timedelta(minutes=target_minutes)
    updates, at = [], opened
    for gap in gaps:
        at += timedelta(seconds=gap)
        updates.append(AgentAction(ActionName.REPLY, at, "agent:ana", {"message": "update"}))
    step = replay(policy, calendar, {}, opened, updates, at)

    starts = [opened, *(u.at for u in updates)]
    ends = [u.at for u in updates] + [at]
    expected = [calendar.add(s, target) for s, e in zip(starts, ends, strict=True)]
    expected = [due for due, e in zip(expected, ends, strict=True) if e >= due]
    breaches = [e.at for e in step.events if e.kind is EventKind.BREACHED and e.data.get("clock") == "reply"]
    assert breaches == expected
    assert step.state.clock("reply").due_at == (
        step.state.clock("reply").breached_at or calendar.add(starts[-1], target)
    )
