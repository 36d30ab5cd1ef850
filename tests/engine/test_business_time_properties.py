"""Properties of business time over random instants, durations and calendars (hypothesis).

CI runs the default profile; ``HYPOTHESIS_PROFILE=long`` runs thousands of examples per property.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given
from hypothesis import strategies as st

from policies.model import ALWAYS, Calendar
from sla_engine.business_time import BusinessCalendar
from tests.engine.calendars_fixtures import (
    NEW_YORK,
    PROPERTY_SETTINGS,
    ROME,
    local_24x7,
    lunch_break,
    new_york_office,
    night_shift,
    overlapping_shifts,
    rome_office,
    sunday_only,
)

MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)
DAY_SECONDS = 86_400

#: Calendars whose interval bounds all fall outside the 02:00-03:00 DST hour, so plain wall-clock
#: membership (the oracle below) is exactly their meaning.
WALL_CLOCK_CALENDARS = [
    rome_office(
        extra_holidays=frozenset({date(2026, 6, 29)}), extra_working_days=frozenset({date(2026, 6, 2)})
    ),
    lunch_break("America/New_York"),
    local_24x7("Europe/Rome"),
    local_24x7("America/New_York"),
    night_shift("Europe/Rome", holiday_country="IT"),
    night_shift("America/New_York"),
    overlapping_shifts(),
    new_york_office(),
]
#: (calendar, largest working duration drawn for it): a sparse calendar gets small durations.
BUSINESS = {cal: BusinessCalendar(cal) for cal in WALL_CLOCK_CALENDARS}
CALENDARS = [(BUSINESS[cal], 30 * DAY_SECONDS) for cal in WALL_CLOCK_CALENDARS] + [
    (BusinessCalendar(sunday_only()), 3 * 3600)
]
ALWAYS_CAL = BusinessCalendar(ALWAYS)

#: Local dates of every DST change in 2024-2030, in both zones: random instants are drawn near them
#: half the time, else they would almost never cross one.
DST_DAYS = [
    day
    for year in range(2024, 2031)
    for zone in (ROME, NEW_YORK)
    for day in (date(year, month, 1) + timedelta(days=i) for month in (3, 10, 11) for i in range(31))
    if datetime(day.year, day.month, day.day, tzinfo=zone).utcoffset()
    != datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone).utcoffset()
]

ZONES = st.sampled_from([UTC, ROME, NEW_YORK])
ANY_INSTANT = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=ZONES, allow_imaginary=False
)
NEAR_DST = st.builds(
    lambda day, seconds: datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(seconds=seconds),
    st.sampled_from(DST_DAYS),
    st.integers(-2 * DAY_SECONDS, 2 * DAY_SECONDS),
)
INSTANTS = st.one_of(ANY_INSTANT, NEAR_DST)


Drawn = tuple[BusinessCalendar, list[timedelta]]


@st.composite
def calendar_and_durations(draw: st.DrawFn, count: int = 1) -> Drawn:
    cal, cap = draw(st.sampled_from(CALENDARS))
    return cal, [timedelta(seconds=draw(st.integers(0, cap))) for _ in range(count)]


@PROPERTY_SETTINGS
@given(INSTANTS, calendar_and_durations())
def test_elapsed_undoes_add(start: datetime, drawn: Drawn) -> None:
    cal, (duration,) = drawn
    due = cal.add(start, duration)
    assert due.tzinfo is UTC
    assert cal.elapsed(start, due) == duration
    assert due - start >= duration  # working time never outruns real time


@PROPERTY_SETTINGS
@given(INSTANTS, calendar_and_durations(count=2))
def test_add_is_monotonic_and_composes(
    start: datetime, drawn: tuple[BusinessCalendar, list[timedelta]]
) -> None:
    cal, (d1, d2) = drawn
    short, long = sorted((d1, d2))
    assert start <= cal.add(start, short) <= cal.add(start, long)
    # settling a meter part-way never moves its deadline (what sla_engine.deadlines relies on)
    assert cal.add(cal.add(start, d1), d2) == cal.add(start, d1 + d2)


@PROPERTY_SETTINGS
@given(INSTANTS, calendar_and_durations())
def test_add_lands_in_working_time(start: datetime, drawn: Drawn) -> None:
    cal, (duration,) = drawn
    if duration > timedelta(0):
        assert cal.is_working(cal.add(start, duration) - MICROSECOND)


@PROPERTY_SETTINGS
@given(st.lists(INSTANTS, min_size=3, max_size=3), st.sampled_from(CALENDARS))
def test_elapsed_is_additive(instants: list[datetime], drawn: tuple[BusinessCalendar, int]) -> None:
    cal, _ = drawn
    a, b, c = sorted(instants)
    assert cal.elapsed(a, b) + cal.elapsed(b, c) == cal.elapsed(a, c)
    assert cal.elapsed(c, a) == timedelta(0)
    assert cal.elapsed(a, c) <= c.astimezone(UTC) - a.astimezone(UTC)  # real time, not wall time


@PROPERTY_SETTINGS
@given(INSTANTS, INSTANTS, st.integers(0, 30 * DAY_SECONDS))
def test_always_is_plain_arithmetic(a: datetime, b: datetime, seconds: int) -> None:
    # Real (UTC) arithmetic: Python's aware arithmetic within one zone is wall-clock arithmetic.
    a, b, duration = a.astimezone(UTC), b.astimezone(UTC), timedelta(seconds=seconds)
    assert ALWAYS_CAL.add(a, duration) == a + duration
    assert ALWAYS_CAL.elapsed(a, b) == max(b - a, timedelta(0))


# -- an independent oracle: wall-clock membership, minute by minute --------------------------------


def wall_clock_working(cal: Calendar, instant: datetime, country: dict[int, holidays.HolidayBase]) -> bool:
    """Whether ``instant``'s local wall time lies in an interval that started today or yesterday."""
    local = instant.astimezone(ZoneInfo(cal.timezone))
    today, now = local.date(), local.time()

    def opens(day: date) -> bool:
        if day in cal.extra_holidays:
            return False
        if cal.holiday_country is None or day in cal.extra_working_days:
            return True
        if day.year not in country:
            country[day.year] = holidays.country_holidays(
                cal.holiday_country, subdiv=cal.holiday_subdivision, years=day.year
            )
        return day not in country[day.year]

    yesterday = today - timedelta(days=1)
    if opens(today) and any(
        (iv.start <= now) if iv.overnight else (iv.start <= now < iv.end)
        for iv in cal.weekly[today.weekday()]
    ):
        return True
    return opens(yesterday) and any(iv.overnight and now < iv.end for iv in cal.weekly[yesterday.weekday()])


@PROPERTY_SETTINGS
@given(
    st.sampled_from(WALL_CLOCK_CALENDARS),
    st.sampled_from(DST_DAYS + [date(2025, 12, 24), date(2026, 6, 1), date(2026, 6, 28), date(2028, 2, 28)]),
    st.integers(-DAY_SECONDS // 60, DAY_SECONDS // 60),
    st.integers(0, 2 * DAY_SECONDS // 60),
)
def test_elapsed_matches_wall_clock_minute_count(cal: Calendar, day: date, offset: int, span: int) -> None:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + offset * MINUTE
    country: dict[int, holidays.HolidayBase] = {}
    expected = sum(wall_clock_working(cal, start + i * MINUTE, country) for i in range(span))
    assert BUSINESS[cal].elapsed(start, start + span * MINUTE) == expected * MINUTE


# -- the fast path of ``elapsed`` (whole days and weeks from a cache) against the plain walk --------


def elapsed_by_walking(cal: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """The definition: every local day's segments clipped to ``[start, end)``, summed one by one.
    Days from two before ``start``'s local date to two after ``end``'s: windows partition the time
    line, so the extra days add nothing (and cover zones whose days shift around midnight)."""
    a, b = start.astimezone(UTC), end.astimezone(UTC)
    total, day = timedelta(0), a.astimezone(cal.zone).date() - timedelta(days=2)
    while day <= b.astimezone(cal.zone).date() + timedelta(days=2):
        for lo, hi in cal.segments(day):
            total += max(min(hi, b) - max(lo, a), timedelta(0))
        day += timedelta(days=1)
    return total


@PROPERTY_SETTINGS
@given(INSTANTS, st.integers(0, 800 * DAY_SECONDS), st.sampled_from(CALENDARS), st.booleans())
def test_elapsed_equals_the_day_by_day_walk(
    start: datetime, seconds: int, drawn: tuple[BusinessCalendar, int], fresh: bool
) -> None:
    # Spans up to ~2 years cross holidays, DST changes and whole cached weeks; a fresh calendar
    # has empty caches, the shared one whatever earlier examples left.
    cal = BusinessCalendar(drawn[0].calendar) if fresh else drawn[0]
    end = start.astimezone(UTC) + timedelta(seconds=seconds)  # real time, not wall time
    assert cal.elapsed(start, end) == elapsed_by_walking(cal, start, end)
    assert cal.elapsed(end, start) == timedelta(0)
