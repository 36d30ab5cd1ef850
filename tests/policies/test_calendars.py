"""Calendar files: schema errors with pointers, the semantic checks, and parsing (Monday first)."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from policies.calendars import check_calendar_file, load_calendar, load_calendars
from policies.diagnostics import PolicyError
from policies.model import ALWAYS
from tests.policies.conftest import write_json


def calendar_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "night-desk",
        "title": "Night desk",
        "timezone": "America/New_York",
        "hours": {
            "monday": [{"start": "22:00", "end": "06:00"}],
            "saturday": [{"start": "10:00", "end": "14:00"}],
        },
        "holidays": {
            "country": "US",
            "subdivision": "NY",
            "dates": ["2026-12-24"],
            "working_dates": ["2026-11-26"],
        },
    }
    doc.update(changes)
    return doc


def check(tmp_path: Path, doc: Any, name: str = "night-desk") -> list[tuple[str, str]]:
    result = check_calendar_file(write_json(tmp_path / "calendars" / f"{name}.json", doc))
    return [(d.pointer, d.message) for d in result.diagnostics]


def test_a_calendar_parses_monday_first_with_overnight_hours_and_holidays(tmp_path: Path) -> None:
    write_json(tmp_path / "night-desk.json", calendar_doc())
    calendar = load_calendars(tmp_path)["night-desk"]
    assert len(calendar.weekly) == 7
    (night,) = calendar.weekly[0]
    assert (night.start, night.end, night.overnight) == (time(22), time(6), True)
    assert calendar.weekly[5][0].start == time(10) and calendar.weekly[1] == ()
    assert (calendar.holiday_country, calendar.holiday_subdivision) == ("US", "NY")
    assert calendar.extra_holidays == {date(2026, 12, 24)} and calendar.extra_working_days == {
        date(2026, 11, 26)
    }
    assert calendar.title == "Night desk" and not calendar.always


def test_load_calendars_always_includes_the_built_in_always(tmp_path: Path) -> None:
    assert load_calendars(tmp_path) == {"always": ALWAYS}
    assert load_calendar("always", tmp_path) is ALWAYS


@pytest.mark.parametrize(
    ("changes", "pointer", "message"),
    [
        ({"timezone": "Europe/Roma"}, "/timezone", "'Europe/Roma' is not an IANA time zone"),
        (
            {"holidays": {"country": "XX"}},
            "/holidays/country",
            "'XX' is not a country the holidays package knows",
        ),
        ({"holidays": {"country": "it"}}, "/holidays/country", "'it' is not a country code"),
        (
            {"holidays": {"country": "US", "subdivision": "ZZ"}},
            "/holidays/subdivision",
            "'ZZ' is not a subdivision of US",
        ),
        ({"holidays": {"subdivision": "NY"}}, "/holidays", "a holiday subdivision needs a country"),
        ({"holidays": {"dates": ["2026-02-30"]}}, "/holidays/dates/0", "'2026-02-30' is not a calendar date"),
        (
            {"holidays": {"dates": ["24/12/2026"]}},
            "/holidays/dates/0",
            "'24/12/2026' is not a date (YYYY-MM-DD",
        ),
        (
            {"hours": {"monday": [{"start": "9:00", "end": "18:00"}]}},
            "/hours/monday/0/start",
            "'9:00' is not a time",
        ),
        ({"hours": {"mon": []}}, "/hours/mon", "unknown field 'mon' (allowed: friday, monday"),
        ({"hours": {"monday": []}}, "/hours", "no working hours on any day"),
        ({"hours": {}}, "/hours", "weekly hours need at least one day"),
        ({"id": "day-desk"}, "/id", "calendar id 'day-desk' must match its file name 'night-desk.json'"),
        ({"rules": []}, "/rules", "unknown field 'rules'"),
    ],
)
def test_calendar_errors_have_pointers_and_clear_messages(
    tmp_path: Path, changes: dict[str, Any], pointer: str, message: str
) -> None:
    found = check(tmp_path, calendar_doc(**changes))
    assert [p for p, _ in found] == [pointer], found
    assert message in found[0][1]


def test_always_cannot_be_redefined(tmp_path: Path) -> None:
    assert check(tmp_path, calendar_doc(id="always"), name="always") == [
        ("/id", "'always' is the built-in 24x7 calendar; choose another id")
    ]


def test_a_date_both_closed_and_reopened_is_a_warning(tmp_path: Path) -> None:
    doc = calendar_doc(holidays={"country": "IT", "dates": ["2026-12-24"], "working_dates": ["2026-12-24"]})
    result = check_calendar_file(write_json(tmp_path / "night-desk.json", doc))
    assert result.value is not None
    assert [(d.pointer, d.severity) for d in result.diagnostics] == [("/holidays/working_dates/0", "warning")]


def test_load_calendars_raises_with_every_error_and_load_calendar_names_a_missing_one(tmp_path: Path) -> None:
    write_json(tmp_path / "night-desk.json", calendar_doc(timezone="Mars/Olympus"))
    with pytest.raises(PolicyError, match="Mars/Olympus"):
        load_calendars(tmp_path)
    with pytest.raises(PolicyError, match="no calendar named 'it-business'"):
        load_calendar("it-business", tmp_path)
    assert load_calendar("it-business").timezone == "Europe/Rome"
