"""Calendar files: schema, lint, parsing into ``policies.model.Calendar``, and loading a folder.

A calendar file is ``calendars/<id>.json``; policies name it by that id. ``always`` (24x7) is built
in (``policies.model.ALWAYS``) and cannot be redefined. The lint checks what the schema cannot: the
IANA time zone, the holiday country and subdivision (as the ``holidays`` package knows them), real
dates, at least one working interval, and that the id matches the file name.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Any

import holidays

from policies.diagnostics import Diagnostic, LoadResult, PolicyError, Severity, pointer
from policies.documents import read_json_file
from policies.ics import read_ics_days
from policies.json_schemas import SchemaName, validate
from policies.model import ALWAYS, Calendar, DayRule, WorkingInterval

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?")
_END = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?|24:00(?::00)?")
_MONTH_DAY = re.compile(r"[0-9]{2}-[0-9]{2}")
#: A leap year, so that "02-29" is a real yearly date (it applies in leap years only).
_LEAP = 2024


def bundled_calendars_dir() -> Path:
    return Path(__file__).resolve().parent / "calendars"


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def _countries() -> Mapping[str, list[str]]:
    supported: Mapping[str, list[str]] = holidays.list_supported_countries()
    return supported


def lint_calendar(doc: Mapping[str, Any], file: str, expected_id: str | None = None) -> list[Diagnostic]:
    """Semantic problems of schema-valid calendar ``doc``; ``expected_id`` is its file name's stem.
    (The ``ics`` file is read, and its problems reported, by ``check_calendar_file``.)"""
    found: list[Diagnostic] = []

    def error(where: str, message: str, severity: Severity = Severity.ERROR) -> None:
        found.append(Diagnostic(file, where, message, severity))

    if doc["id"] == ALWAYS.name:
        error("/id", "'always' is the built-in 24x7 calendar; choose another id")
    elif expected_id is not None and doc["id"] != expected_id:
        error("/id", f"calendar id {doc['id']!r} must match its file name {expected_id + '.json'!r}")
    if doc["timezone"] not in _time_zones():
        error(
            "/timezone", f"{doc['timezone']!r} is not an IANA time zone (e.g. Europe/Rome, America/New_York)"
        )
    _lint_hours(doc["hours"], error)
    _lint_holidays(doc.get("holidays", {}), error)
    return found


def _lint_hours(hours: Mapping[str, Any], error: Any) -> None:
    for day, intervals in hours.items():
        _lint_intervals(intervals, ("hours", day), error)
    if not any(hours.values()):
        error("/hours", "no working hours on any day: a deadline on this calendar could never be reached")


def _lint_intervals(intervals: list[Mapping[str, str]], where: tuple[str | int, ...], error: Any) -> None:
    for i, interval in enumerate(intervals):
        for key, form in (("start", _TIME), ("end", _END)):
            if form.fullmatch(interval[key]) is None:
                error(pointer(*where, i, key), f"{interval[key]!r} is not a time of day (HH:MM, e.g. 09:00)")


def _lint_holidays(spec: Mapping[str, Any], error: Any) -> None:
    country = spec.get("country")
    if country is not None and country not in _countries():
        error(
            "/holidays/country", f"{country!r} is not a country the holidays package knows (e.g. IT, FR, US)"
        )
    elif country is not None and "subdivision" in spec and spec["subdivision"] not in _countries()[country]:
        known = ", ".join(_countries()[country]) or "none"
        error(
            "/holidays/subdivision",
            f"{spec['subdivision']!r} is not a subdivision of {country} (known: {known})",
        )
    for i, text in enumerate(spec.get("working_dates", [])):
        if _parse_date(text) is None:
            error(pointer("holidays", "working_dates", i), f"{text!r} is not a calendar date (YYYY-MM-DD)")
    for i, entry in enumerate(spec.get("dates", [])):
        _lint_holiday(entry, ("holidays", "dates", i), error)
    both = {d for d in spec.get("dates", []) if isinstance(d, str)} & set(spec.get("working_dates", []))
    for i, text in enumerate(spec.get("working_dates", [])):
        if text in both:
            error(
                pointer("holidays", "working_dates", i),
                f"{text} is also in dates; the explicit holiday wins",
                Severity.WARNING,
            )


def _lint_holiday(entry: str | Mapping[str, Any], where: tuple[str | int, ...], error: Any) -> None:
    """A holiday entry: a real date or month-day; years only on a month-day, in order."""
    text = entry if isinstance(entry, str) else entry["date"]
    at = where if isinstance(entry, str) else (*where, "date")
    yearly = _MONTH_DAY.fullmatch(text) is not None
    if (_parse_month_day(text) if yearly else _parse_date(text)) is None:
        error(pointer(*at), f"{text!r} is not a calendar date (YYYY-MM-DD, or MM-DD for every year)")
    if isinstance(entry, str):
        return
    for key in ("first_year", "last_year"):
        if key in entry and not yearly:
            error(pointer(*where, key), f"{key} applies to a yearly date (MM-DD), not to {text!r}")
    if entry.get("first_year", 0) > entry.get("last_year", 9999):
        error(pointer(*where, "last_year"), "last_year is before first_year")
    _lint_intervals(entry.get("hours", []), (*where, "hours"), error)


def _parse_month_day(text: str) -> date | None:
    try:
        return date.fromisoformat(f"{_LEAP}-{text}")
    except ValueError:
        return None


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) else None
    except ValueError:
        return None


def _time(text: str) -> time:
    """A wall time; ``24:00`` is the next midnight, which an interval's end reads as 00:00 of the
    next day (an end at or before the start runs past midnight)."""
    return time(0) if text.startswith("24:") else time.fromisoformat(text)


def _intervals(items: list[Mapping[str, str]]) -> tuple[WorkingInterval, ...]:
    return tuple(WorkingInterval(_time(i["start"]), _time(i["end"])) for i in items)


def _day_rule(entry: str | Mapping[str, Any]) -> DayRule | None:
    """The rule of a holiday entry; None for a plain YYYY-MM-DD (kept in ``extra_holidays``)."""
    if isinstance(entry, str) and _MONTH_DAY.fullmatch(entry) is None:
        return None
    spec: Mapping[str, Any] = {"date": entry} if isinstance(entry, str) else entry
    text = spec["date"]
    year = None if _MONTH_DAY.fullmatch(text) else int(text[:4])
    month, day = int(text[-5:-3]), int(text[-2:])
    hours = _intervals(spec.get("hours", []))
    return DayRule(month, day, year, spec.get("first_year"), spec.get("last_year"), hours)


def build_calendar(doc: Mapping[str, Any], ics_days: frozenset[date] = frozenset()) -> Calendar:
    """The ``Calendar`` of a schema-valid, lint-clean document; ``weekly`` is Monday first.
    ``ics_days`` are the closed days read from its ``ics`` file."""
    hours = doc["hours"]
    weekly = tuple(_intervals(hours.get(day, [])) for day in WEEKDAYS)
    spec = doc.get("holidays", {})
    entries = spec.get("dates", [])
    plain = {date.fromisoformat(d) for d in entries if isinstance(d, str) and _day_rule(d) is None}
    rules = tuple(r for r in (_day_rule(e) for e in entries) if r is not None)
    return Calendar(
        name=doc["id"],
        timezone=doc["timezone"],
        weekly=weekly,
        holiday_country=spec.get("country"),
        holiday_subdivision=spec.get("subdivision"),
        extra_holidays=frozenset(plain | ics_days),
        extra_working_days=frozenset(date.fromisoformat(d) for d in spec.get("working_dates", [])),
        title=doc.get("title"),
        day_rules=rules,
    )


def check_calendar_file(path: Path, label: str | None = None) -> LoadResult[Calendar]:
    """Read, validate, lint and parse one calendar file; never raises for bad content."""
    name = label if label is not None else str(path)
    doc, problems = read_json_file(path, name)
    if not problems:
        problems = validate(doc, SchemaName.CALENDAR, name)
    if not problems:
        problems = lint_calendar(doc, name, expected_id=path.stem)
    ics_days: frozenset[date] = frozenset()
    if not problems and "ics" in doc:
        ics_days, problems = read_ics_days(path.parent / doc["ics"], name)
    errors = [d for d in problems if d.severity is Severity.ERROR]
    value = None if errors else build_calendar(doc, ics_days)
    return LoadResult(name, value, tuple(problems))


def check_calendar_dir(directory: Path) -> list[LoadResult[Calendar]]:
    """Every ``*.json`` calendar of ``directory`` (none when it does not exist), sorted by file name."""
    if not directory.is_dir():
        return []
    return [check_calendar_file(path) for path in sorted(directory.glob("*.json"))]


def calendars_from(results: list[LoadResult[Calendar]]) -> dict[str, Calendar]:
    """The valid calendars of ``results`` by id, with the built-in ``always``."""
    found = {ALWAYS.name: ALWAYS}
    found.update({r.value.name: r.value for r in results if r.value is not None})
    return found


def load_calendars(directory: Path | None = None) -> dict[str, Calendar]:
    """The calendars of ``directory`` (default: the bundled ones) by id, plus ``always``.

    Raises PolicyError listing every error when any calendar file is invalid.
    """
    results = check_calendar_dir(directory if directory is not None else bundled_calendars_dir())
    problems = [d for r in results for d in r.errors]
    if problems:
        raise PolicyError(problems)
    return calendars_from(results)


def load_calendar(name: str, directory: Path | None = None) -> Calendar:
    """One calendar by name: ``always`` or ``<directory>/<name>.json``; PolicyError when bad or absent."""
    if name == ALWAYS.name:
        return ALWAYS
    base = directory if directory is not None else bundled_calendars_dir()
    path = base / f"{name}.json"
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name) or not path.is_file():
        raise PolicyError([Diagnostic(str(path), "", f"no calendar named {name!r} in {base}")])
    result = check_calendar_file(path)
    if result.value is None:
        raise PolicyError(result.diagnostics)
    return result.value
