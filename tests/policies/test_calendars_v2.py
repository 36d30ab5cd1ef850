"""Calendars v2: yearly MM-DD holidays (with first and last years), special hours for a date, hours
to the second and up to 24:00, and closed days read from an iCalendar file with recurring rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from policies.calendars import check_calendar_file
from policies.model import Calendar
from sla_engine.business_time import BusinessCalendar
from tests.policies.conftest import write_json

ROME = ZoneInfo("Europe/Rome")
ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//lifeline tests//EN
BEGIN:VEVENT
UID:patron@lifeline.test
DTSTART;VALUE=DATE:20260629
DTEND;VALUE=DATE:20260630
RRULE:FREQ=YEARLY
SUMMARY:Santi Pietro e Paolo (Rome)
END:VEVENT
BEGIN:VEVENT
UID:closure@lifeline.test
DTSTART;VALUE=DATE:20260810
DTEND;VALUE=DATE:20260815
SUMMARY:Summer closure
END:VEVENT
END:VCALENDAR
"""


def office(**changes: Any) -> dict[str, Any]:
    weekday = [{"start": "09:00", "end": "18:00"}]
    doc: dict[str, Any] = {
        "id": "rome-office",
        "timezone": "Europe/Rome",
        "hours": dict.fromkeys(("monday", "tuesday", "wednesday", "thursday", "friday"), weekday),
    }
    doc.update(changes)
    return doc


def load(
    tmp_path: Path, doc: dict[str, Any], ics: str | None = None
) -> tuple[Calendar | None, list[tuple[str, str]]]:
    folder = tmp_path / "calendars"
    if ics is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "rome.ics").write_text(ics, encoding="utf-8")
    result = check_calendar_file(write_json(folder / f"{doc['id']}.json", doc))
    return result.value, [(d.pointer, d.message) for d in result.diagnostics]


def rome(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ROME)


def hours(count: float) -> timedelta:
    return timedelta(hours=count)


def test_a_yearly_holiday_closes_its_date_every_year_within_its_years(tmp_path: Path) -> None:
    holidays = {"dates": ["12-24", {"date": "08-17", "first_year": 2027, "last_year": 2028}]}
    calendar, problems = load(tmp_path, office(holidays=holidays))
    assert problems == [] and calendar is not None
    business = BusinessCalendar(calendar)
    assert business.is_holiday(date(2026, 12, 24)) and business.is_holiday(date(2031, 12, 24))
    assert [business.is_holiday(date(y, 8, 17)) for y in (2026, 2027, 2028, 2029)] == [
        False,
        True,
        True,
        False,
    ]
    # Thursday 2026-12-24 closed: 5 working hours from Wednesday 14:00 end on Friday at 10:00.
    assert business.add(rome(2026, 12, 23, 14), hours(5)) == rome(2026, 12, 25, 10).astimezone(UTC)


def test_special_hours_make_a_half_day_and_can_open_a_saturday(tmp_path: Path) -> None:
    holidays = {
        "dates": [
            {"date": "12-31", "hours": [{"start": "09:00", "end": "13:00"}], "title": "New Year's Eve"},
            {"date": "2026-10-03", "hours": [{"start": "10:00", "end": "12:00"}]},
        ]
    }
    calendar, problems = load(tmp_path, office(holidays=holidays))
    assert problems == [] and calendar is not None
    business = BusinessCalendar(calendar)
    # Thursday 2026-12-31: 09:00-13:00 only; 5 h from 09:00 end on Friday 2027-01-01 at 10:00.
    assert business.add(rome(2026, 12, 31, 9), hours(5)) == rome(2027, 1, 1, 10).astimezone(UTC)
    # Saturday 2026-10-03 works 10:00-12:00.
    assert business.elapsed(rome(2026, 10, 3, 0), rome(2026, 10, 4, 0)) == hours(2)


def test_a_date_rule_wins_over_a_yearly_rule_and_the_country_list(tmp_path: Path) -> None:
    holidays = {
        "country": "IT",
        "dates": [
            "12-24",
            {"date": "2026-12-24", "hours": [{"start": "09:00", "end": "12:00"}]},
            {"date": "12-08", "hours": [{"start": "09:00", "end": "11:00"}]},
        ],
    }
    calendar, problems = load(tmp_path, office(holidays=holidays))
    assert problems == [] and calendar is not None
    business = BusinessCalendar(calendar)
    assert business.elapsed(rome(2026, 12, 24, 0), rome(2026, 12, 25, 0)) == hours(3)
    assert business.elapsed(rome(2027, 12, 24, 0), rome(2027, 12, 25, 0)) == hours(0)
    # 8 December is an Italian public holiday; the calendar opens it two hours anyway.
    assert business.elapsed(rome(2026, 12, 8, 0), rome(2026, 12, 9, 0)) == hours(2)


def test_hours_to_the_second_and_up_to_midnight(tmp_path: Path) -> None:
    week = {
        "monday": [{"start": "09:00:30", "end": "24:00"}],
        "tuesday": [{"start": "00:00", "end": "17:59:59"}],
    }
    calendar, problems = load(tmp_path, office(hours=week))
    assert problems == [] and calendar is not None
    assert calendar.weekly[0][0].start == time(9, 0, 30) and calendar.weekly[0][0].overnight
    business = BusinessCalendar(calendar)
    # Monday 2026-03-02 09:00:30 to Tuesday 17:59:59: 14h59m30s + 17h59m59s.
    total = business.elapsed(rome(2026, 3, 2, 0), rome(2026, 3, 4, 0)).total_seconds()
    assert total == (14 * 3600 + 59 * 60 + 30) + (17 * 3600 + 59 * 60 + 59)


def test_an_ics_file_closes_its_events_and_every_recurrence(tmp_path: Path) -> None:
    calendar, problems = load(tmp_path, office(ics="rome.ics"), ICS)
    assert problems == [] and calendar is not None
    business = BusinessCalendar(calendar)
    assert all(business.is_holiday(date(y, 6, 29)) for y in (2026, 2027, 2040, 2100))
    assert not business.is_holiday(date(2025, 6, 29))  # the rule starts in 2026
    assert [business.is_holiday(date(2026, 8, d)) for d in (7, 10, 14, 15)] == [False, True, True, False]


def test_ics_problems_are_reported_at_the_ics_field(tmp_path: Path) -> None:
    _, missing = load(tmp_path, office(ics="absent.ics"))
    assert [p for p, _ in missing] == ["/ics"] and "cannot read absent.ics" in missing[0][1]
    _, broken = load(tmp_path, office(ics="rome.ics"), "BEGIN:VCALENDAR\nthis is not ical\n")
    assert [p for p, _ in broken] == ["/ics"] and "not a valid iCalendar file" in broken[0][1]
    _, escaping = load(tmp_path, office(ics="../secrets.ics"))
    assert [p for p, _ in escaping] == ["/ics"] and "iCalendar file name" in escaping[0][1]


def test_bad_v2_holiday_entries_are_reported_with_pointers(tmp_path: Path) -> None:
    holidays = {
        "dates": [
            "13-01",
            {"date": "2026-12-24", "first_year": 2026},
            {"date": "12-24", "first_year": 2030, "last_year": 2027},
        ]
    }
    _, problems = load(tmp_path, office(holidays=holidays))
    assert problems == [
        ("/holidays/dates/0", "'13-01' is not a calendar date (YYYY-MM-DD, or MM-DD for every year)"),
        ("/holidays/dates/1/first_year", "first_year applies to a yearly date (MM-DD), not to '2026-12-24'"),
        ("/holidays/dates/2/last_year", "last_year is before first_year"),
    ]


def test_malformed_v2_entries_are_schema_errors_with_pointers(tmp_path: Path) -> None:
    holidays = {"dates": [{"date": "12-31", "hours": [{"start": "24:00", "end": "13:00"}]}, "31/12"]}
    _, problems = load(tmp_path, office(holidays=holidays))
    assert [p for p, _ in problems] == ["/holidays/dates/0/hours/0/start", "/holidays/dates/1"]
    assert problems[1][1] == "'31/12' is not a date (YYYY-MM-DD, or MM-DD for every year, e.g. 12-25)"
