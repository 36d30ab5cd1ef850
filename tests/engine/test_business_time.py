"""Business time by example: office hours, holidays, year ends, leap days, DST, lunch breaks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from policies.model import ALWAYS, Calendar, DayRule
from sla_engine.business_time import BusinessCalendar
from tests.engine.calendars_fixtures import (
    NEW_YORK,
    ROME,
    hours,
    in_zone,
    local_24x7,
    lunch_break,
    new_york_office,
    night_shift,
    overlapping_shifts,
    rome_office,
    utc,
    week,
)

H = timedelta(hours=1)
OFFICE = BusinessCalendar(rome_office())


def local_add(cal: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """``add`` read back as wall time in the calendar's zone (naive, for readable expectations)."""
    return cal.local(cal.add(start, duration)).replace(tzinfo=None)


# -- Rome office: Monday to Friday 09:00-18:00 with Italian holidays --------------------------------


def test_friday_evening_plus_two_hours_is_monday_ten() -> None:
    assert local_add(OFFICE, in_zone(ROME, 2026, 3, 6, 17), 2 * H) == datetime(2026, 3, 9, 10)


def test_result_is_utc() -> None:
    due = OFFICE.add(in_zone(ROME, 2026, 3, 6, 17), 2 * H)
    assert due.tzinfo is UTC
    assert due == utc(2026, 3, 9, 9)  # 10:00 CET


def test_start_outside_hours_counts_from_next_opening() -> None:
    saturday_noon = in_zone(ROME, 2026, 3, 7, 12)
    assert local_add(OFFICE, saturday_noon, H) == datetime(2026, 3, 9, 10)
    assert local_add(OFFICE, in_zone(ROME, 2026, 3, 9, 7), H) == datetime(2026, 3, 9, 10)


def test_zero_duration_returns_start_even_outside_hours() -> None:
    saturday_noon = in_zone(ROME, 2026, 3, 7, 12)
    assert OFFICE.add(saturday_noon, timedelta(0)) == saturday_noon


def test_ending_exactly_at_closing_time_is_closing_time() -> None:
    assert local_add(OFFICE, in_zone(ROME, 2026, 3, 9, 9), 9 * H) == datetime(2026, 3, 9, 18)


@pytest.mark.parametrize(
    ("start", "expected", "why"),
    [
        (datetime(2025, 4, 24, 17), datetime(2025, 4, 28, 10), "Friday 25 April, Liberation Day"),
        (datetime(2025, 4, 18, 17), datetime(2025, 4, 22, 10), "Easter Monday 21 April 2025"),
        (datetime(2025, 4, 30, 17), datetime(2025, 5, 2, 10), "Thursday 1 May, Labour Day"),
        (datetime(2025, 12, 24, 17), datetime(2025, 12, 29, 10), "Christmas and St Stephen, then weekend"),
        (datetime(2025, 12, 31, 17), datetime(2026, 1, 2, 10), "year end: 1 January closed"),
        (datetime(2028, 2, 28, 17), datetime(2028, 2, 29, 10), "leap day 2028-02-29 is a Tuesday"),
    ],
)
def test_holidays_and_calendar_edges(start: datetime, expected: datetime, why: str) -> None:
    assert local_add(OFFICE, start.replace(tzinfo=ROME), 2 * H) == expected, why


def test_holiday_elapsed_counts_nothing() -> None:
    christmas_week = OFFICE.elapsed(in_zone(ROME, 2025, 12, 24, 9), in_zone(ROME, 2025, 12, 29, 9))
    assert christmas_week == 9 * H  # only the 24th: 25, 26 holidays, 27-28 weekend


def test_leap_day_is_a_full_working_day() -> None:
    monday_to_wednesday = OFFICE.elapsed(in_zone(ROME, 2028, 2, 28), in_zone(ROME, 2028, 3, 2))
    assert monday_to_wednesday == 27 * H
    assert local_add(OFFICE, in_zone(ROME, 2028, 2, 28, 9), 18 * H) == datetime(2028, 2, 29, 18)


def test_p3d_of_working_time_spans_about_a_week_and_a_half() -> None:
    # 72 working hours at 9 a day is 8 working days: Monday 9 March 09:00 -> Wednesday 18 March 18:00.
    assert local_add(OFFICE, in_zone(ROME, 2026, 3, 9, 9), timedelta(days=3)) == datetime(2026, 3, 18, 18)


def test_extra_holiday_closes_a_date() -> None:
    # Rome's patron saints, Monday 29 June 2026: a local holiday the national list does not have.
    friday = in_zone(ROME, 2026, 6, 26, 17)
    assert local_add(OFFICE, friday, 2 * H) == datetime(2026, 6, 29, 10)
    closed = BusinessCalendar(rome_office(extra_holidays=frozenset({date(2026, 6, 29)})))
    assert local_add(closed, friday, 2 * H) == datetime(2026, 6, 30, 10)


def test_extra_working_day_reopens_a_country_holiday() -> None:
    # Republic Day, Tuesday 2 June 2026.
    monday = in_zone(ROME, 2026, 6, 1, 17)
    assert local_add(OFFICE, monday, 2 * H) == datetime(2026, 6, 3, 10)
    reopened = BusinessCalendar(rome_office(extra_working_days=frozenset({date(2026, 6, 2)})))
    assert local_add(reopened, monday, 2 * H) == datetime(2026, 6, 2, 10)
    assert reopened.is_holiday(date(2026, 6, 2)) is False
    assert OFFICE.is_holiday(date(2026, 6, 2)) is True


def test_extra_working_day_does_not_open_a_weekend() -> None:
    sunday = date(2026, 6, 7)
    cal = BusinessCalendar(rome_office(extra_working_days=frozenset({sunday})))
    assert cal.segments(sunday) == ()


def test_new_york_office_closes_on_thanksgiving() -> None:
    cal = BusinessCalendar(new_york_office())
    wednesday = in_zone(NEW_YORK, 2026, 11, 25, 16)
    # Thursday 26 is Thanksgiving; Friday 27 is a working day in the country list.
    assert local_add(cal, wednesday, 2 * H) == datetime(2026, 11, 27, 10)


# -- several intervals a day ------------------------------------------------------------------------

LUNCH = BusinessCalendar(lunch_break())


def test_lunch_break_is_skipped() -> None:
    assert local_add(LUNCH, in_zone(ROME, 2026, 3, 9, 11, 30), H) == datetime(2026, 3, 9, 13, 30)
    assert local_add(LUNCH, in_zone(ROME, 2026, 3, 9, 12, 30), H) == datetime(2026, 3, 9, 14)


def test_morning_ending_exactly_at_noon_stays_at_noon() -> None:
    assert local_add(LUNCH, in_zone(ROME, 2026, 3, 9, 11), H) == datetime(2026, 3, 9, 12)


def test_a_day_with_lunch_has_seven_working_hours() -> None:
    assert LUNCH.elapsed(in_zone(ROME, 2026, 3, 9, 8), in_zone(ROME, 2026, 3, 9, 20)) == 7 * H
    assert LUNCH.elapsed(in_zone(ROME, 2026, 3, 9, 11), in_zone(ROME, 2026, 3, 9, 14)) == 2 * H


def test_overlapping_intervals_count_once() -> None:
    cal = BusinessCalendar(overlapping_shifts())
    # 22:00-06:00 and 05:00-09:00 on a plain day: working from 22:00 to 09:00 next morning, 11 hours.
    assert cal.elapsed(in_zone(ROME, 2026, 3, 10, 21), in_zone(ROME, 2026, 3, 11, 12)) == 11 * H


# -- DST, both directions, in two zones ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "real_hours"),
    [
        (ROME, date(2024, 3, 30), 24),
        (ROME, date(2024, 3, 31), 23),  # last Sunday of March: 02:00 -> 03:00
        (ROME, date(2024, 10, 27), 25),  # last Sunday of October: 03:00 -> 02:00
        (NEW_YORK, date(2024, 3, 10), 23),  # second Sunday of March
        (NEW_YORK, date(2024, 11, 3), 25),  # first Sunday of November
        (NEW_YORK, date(2024, 11, 4), 24),
    ],
)
def test_local_24x7_day_lasts_real_hours(zone: ZoneInfo, day: date, real_hours: int) -> None:
    cal = BusinessCalendar(local_24x7(zone.key))
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    assert cal.elapsed(midnight - 2 * H, next_midnight + 2 * H) == timedelta(hours=real_hours + 4)
    assert cal.add(midnight, timedelta(hours=real_hours)) == next_midnight


@pytest.mark.parametrize(
    ("zone", "evening", "real_hours"),
    [
        (ROME, date(2024, 3, 29), 8),
        (ROME, date(2024, 3, 30), 7),
        (ROME, date(2024, 10, 26), 9),
        (NEW_YORK, date(2024, 3, 9), 7),
        (NEW_YORK, date(2024, 11, 2), 9),
        (NEW_YORK, date(2024, 11, 3), 8),
    ],
)
def test_night_shift_across_dst_lasts_real_hours(zone: ZoneInfo, evening: date, real_hours: int) -> None:
    cal = BusinessCalendar(night_shift(zone.key))
    start = datetime(evening.year, evening.month, evening.day, 22, tzinfo=zone)
    assert cal.elapsed(start - 2 * H, start + 14 * H) == timedelta(hours=real_hours)
    # the whole shift's working time ends at 06:00 local the next morning
    assert local_add(cal, start, timedelta(hours=real_hours)) == datetime.combine(
        evening + timedelta(days=1), datetime.min.time()
    ).replace(hour=6)


def test_always_is_plain_real_addition_even_for_local_inputs() -> None:
    cal = BusinessCalendar(ALWAYS)
    saturday_noon = in_zone(ROME, 2024, 3, 30, 12)
    assert cal.add(saturday_noon, 24 * H) == in_zone(ROME, 2024, 3, 31, 13)  # 23 wall-clock hours later
    assert cal.elapsed(saturday_noon, in_zone(ROME, 2024, 3, 31, 12)) == 23 * H
    assert cal.elapsed(in_zone(ROME, 2024, 3, 31, 12), saturday_noon) == timedelta(0)


def test_nonexistent_start_moves_forward_to_the_end_of_the_gap() -> None:
    cal = BusinessCalendar(Calendar("gap", "Europe/Rome", weekly=week(hours("02:30", "04:00"))))
    # 31 March 2024: 02:30 does not exist; the interval starts at 03:00 CEST (01:00 UTC).
    assert cal.segments(date(2024, 3, 31)) == ((utc(2024, 3, 31, 1), utc(2024, 3, 31, 2)),)
    # 27 October 2024: 02:30 happens twice; the interval starts at the first (CEST, 00:30 UTC).
    assert cal.segments(date(2024, 10, 27)) == ((utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 3)),)


def test_overnight_shift_runs_into_a_holiday_but_none_starts_on_it() -> None:
    cal = BusinessCalendar(night_shift("Europe/Rome", holiday_country="IT"))
    christmas = cal.elapsed(in_zone(ROME, 2025, 12, 25), in_zone(ROME, 2025, 12, 26))
    assert christmas == 6 * H  # 00:00-06:00 from the shift that started on the 24th; none at 22:00


# -- helpers other modules use ---------------------------------------------------------------------


def test_is_working_and_next_working_instant() -> None:
    assert OFFICE.is_working(in_zone(ROME, 2026, 3, 9, 9))
    assert not OFFICE.is_working(in_zone(ROME, 2026, 3, 9, 18))  # intervals are half-open
    assert OFFICE.next_working_instant(in_zone(ROME, 2026, 3, 6, 18, 30)) == in_zone(ROME, 2026, 3, 9, 9)
    assert OFFICE.next_working_instant(in_zone(ROME, 2026, 3, 9, 10)) == in_zone(ROME, 2026, 3, 9, 10)
    assert OFFICE.local(utc(2026, 7, 1, 7)) == in_zone(ROME, 2026, 7, 1, 9)


# -- bad input -------------------------------------------------------------------------------------


def test_calendar_without_working_time_raises_instead_of_looping() -> None:
    cal = BusinessCalendar(Calendar("never", "Europe/Rome", weekly=week()))
    with pytest.raises(ValueError, match="'never' has no working time"):
        cal.add(utc(2026, 1, 1), H)
    assert cal.elapsed(utc(2026, 1, 1), utc(2027, 1, 1)) == timedelta(0)


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        (Calendar("tz", "Europe/Atlantis", weekly=week()), "unknown IANA timezone 'Europe/Atlantis'"),
        (Calendar("c", "UTC", weekly=week(), holiday_country="XX"), "unknown holiday country"),
        (Calendar("s", "UTC", weekly=week(), holiday_country="IT", holiday_subdivision="ZZ"), "'IT'/'ZZ'"),
        (Calendar("w", "UTC", weekly=((),) * 3), "weekly needs 7 entries"),
    ],
)
def test_bad_calendar_is_refused_clearly(calendar: Calendar, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(calendar)


def test_naive_datetimes_and_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="^start must be timezone-aware, got naive 2026-03-09T09:00:00$"):
        OFFICE.add(datetime(2026, 3, 9, 9), H)
    with pytest.raises(ValueError, match="^end must be timezone-aware, got naive 2026-03-10T00:00:00$"):
        OFFICE.elapsed(utc(2026, 3, 9), datetime(2026, 3, 10))
    with pytest.raises(ValueError, match="^start must be timezone-aware, got naive 2026-03-09T00:00:00$"):
        OFFICE.elapsed(datetime(2026, 3, 9), utc(2026, 3, 10))
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add(utc(2026, 3, 9), -H)


# --- the calendar's own rules and its edges (mutation survivors of business_time) -------------------


def _with_christmas_eve(*rules: DayRule) -> BusinessCalendar:
    return BusinessCalendar(
        Calendar(name="eve", timezone="UTC", weekly=week(hours("09:00", "18:00")), day_rules=rules)
    )


HALF_DAY_EVERY_YEAR = DayRule(12, 24, hours=(hours("09:00", "13:00"),))
CLOSED_IN_2026 = DayRule(12, 24, year=2026)


@pytest.mark.parametrize(
    "order", [(HALF_DAY_EVERY_YEAR, CLOSED_IN_2026), (CLOSED_IN_2026, HALF_DAY_EVERY_YEAR)]
)
def test_a_rule_for_one_years_date_wins_over_the_yearly_rule_in_any_order(order: tuple[DayRule, ...]) -> None:
    cal = _with_christmas_eve(*order)
    assert cal.day_rule(date(2026, 12, 24)) == CLOSED_IN_2026 and cal.is_holiday(date(2026, 12, 24))
    assert cal.day_rule(date(2025, 12, 24)) == HALF_DAY_EVERY_YEAR
    assert cal.is_working(datetime(2025, 12, 24, 12, 59, tzinfo=UTC))
    assert not cal.is_working(datetime(2025, 12, 24, 13, 0, tzinfo=UTC))
    assert not cal.is_working(datetime(2026, 12, 24, 10, 0, tzinfo=UTC))


@pytest.mark.parametrize("method", ["local", "is_working", "next_working_instant"])
def test_naive_instants_are_refused_naming_the_argument(method: str) -> None:
    with pytest.raises(ValueError, match="^dt must be timezone-aware, got naive 2026-03-02T09:00:00$"):
        getattr(OFFICE, method)(datetime(2026, 3, 2, 9, 0))


def test_an_always_calendar_is_working_at_any_instant() -> None:
    always = BusinessCalendar(ALWAYS)
    assert always.is_working(datetime(2026, 12, 25, 3, 0, tzinfo=UTC))


def test_weekly_hours_need_seven_days_or_none() -> None:
    with pytest.raises(ValueError, match=r"weekly needs 7 entries \(Monday first\), got 1"):
        BusinessCalendar(Calendar(name="one-day", weekly=(((hours("09:00", "17:00")),),)))
    BusinessCalendar(Calendar(name="rules-only", weekly=()))  # its day rules alone say when it works


def test_closing_time_is_not_working_time_and_the_next_opening_follows() -> None:
    friday_close = in_zone(ROME, 2026, 3, 6, 18)
    assert not OFFICE.is_working(friday_close)
    assert OFFICE.next_working_instant(friday_close) == in_zone(ROME, 2026, 3, 9, 9)


def test_back_to_back_intervals_are_one_segment() -> None:
    cal = BusinessCalendar(
        Calendar(name="split", weekly=week(hours("09:00", "12:00"), hours("12:00", "17:00")))
    )
    monday = date(2026, 3, 2)
    assert cal.segments(monday) == ((utc(2026, 3, 2, 9), utc(2026, 3, 2, 17)),)


def _closed_for(days: int) -> BusinessCalendar:
    """Open 09:00-17:00 every day, except ``days`` holidays in a row from 2026-01-01."""
    closed = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(days))
    return BusinessCalendar(
        Calendar("sabbatical", "UTC", weekly=week(hours("09:00", "17:00")), extra_holidays=closed)
    )


def test_a_calendar_closed_just_under_three_years_still_reaches_its_first_working_day() -> None:
    """The guard against endless search gives up after 3 x 366 closed days, not before."""
    cal = _closed_for(3 * 366 - 1)
    reopened = date(2026, 1, 1) + timedelta(days=3 * 366 - 1)
    assert cal.add(utc(2026, 1, 1), H) == datetime.combine(reopened, datetime.min.time(), UTC) + 10 * H
    assert (
        cal.next_working_instant(utc(2026, 1, 1, 12))
        == datetime.combine(reopened, datetime.min.time(), UTC) + 9 * H
    )


def test_a_calendar_closed_for_three_years_says_so_instead_of_searching_on() -> None:
    with pytest.raises(ValueError) as err:
        _closed_for(3 * 366).add(utc(2026, 1, 1), H)
    assert str(err.value) == (
        "calendar 'sabbatical' has no working time in 1098 days from 2026-01-01T00:00:00+00:00: "
        "check its weekly hours and holidays"
    )


def test_working_days_between_closed_spells_reset_the_count() -> None:
    """Two closed spells of two years each, one working day apart, are not four closed years."""
    first = [date(2026, 1, 1) + timedelta(days=i) for i in range(2 * 366)]
    gap = first[-1] + timedelta(days=1)
    second = [gap + timedelta(days=1 + i) for i in range(2 * 366)]
    cal = BusinessCalendar(
        Calendar(
            "spells", "UTC", weekly=week(hours("09:00", "17:00")), extra_holidays=frozenset(first + second)
        )
    )
    after = datetime.combine(second[-1] + timedelta(days=1), datetime.min.time(), UTC) + 9 * H
    assert cal.add(utc(2026, 1, 1), 9 * H) == after + H


def test_an_extra_holiday_is_a_holiday_even_on_a_working_weekday() -> None:
    cal = _closed_for(1)  # 2026-01-01, a Thursday with hours
    assert (cal.is_holiday(date(2026, 1, 1)), cal.is_holiday(date(2026, 1, 2))) == (True, False)
