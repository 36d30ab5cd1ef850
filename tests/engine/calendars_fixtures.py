"""Calendar builders and hypothesis settings for the business-time tests.

Import explicitly (``from tests.engine.calendars_fixtures import ...``); nothing here is a pytest
fixture, so it has no effect on other test modules. ``PROPERTY_SETTINGS`` is the hypothesis profile
tests/conftest.py loads (``HYPOTHESIS_PROFILE``: derandomized ``ci`` by default, ``long`` for a deep
run), applied per test as a decorator.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from hypothesis import settings

from policies.model import Calendar, WorkingInterval

ROME = ZoneInfo("Europe/Rome")
NEW_YORK = ZoneInfo("America/New_York")

#: The loaded profile (tests/conftest.py: derandomized ``ci`` by default, ``long`` on demand), with
#: no deadline: business-time arithmetic over random calendars varies a lot in cost per example.
PROPERTY_SETTINGS = settings(deadline=None)


def hours(start: str, end: str) -> WorkingInterval:
    """``hours("09:00", "18:00")``; an end at or before the start runs past midnight."""
    return WorkingInterval(time.fromisoformat(start), time.fromisoformat(end))


def week(
    *intervals: WorkingInterval, days: tuple[int, ...] = tuple(range(7))
) -> tuple[tuple[WorkingInterval, ...], ...]:
    """Weekly hours: the same ``intervals`` on each weekday in ``days`` (0 = Monday), else closed."""
    return tuple(tuple(intervals) if weekday in days else () for weekday in range(7))


WEEKDAYS = (0, 1, 2, 3, 4)


def rome_office(
    *,
    extra_holidays: frozenset[date] = frozenset(),
    extra_working_days: frozenset[date] = frozenset(),
) -> Calendar:
    """Europe/Rome, Monday to Friday 09:00-18:00, Italian public holidays."""
    return Calendar(
        name="rome-office",
        timezone="Europe/Rome",
        weekly=week(hours("09:00", "18:00"), days=WEEKDAYS),
        holiday_country="IT",
        extra_holidays=extra_holidays,
        extra_working_days=extra_working_days,
    )


def lunch_break(timezone: str = "Europe/Rome") -> Calendar:
    """Monday to Friday 09:00-12:00 and 13:00-17:00 (lunch excluded), no holidays."""
    return Calendar(
        name="lunch-break",
        timezone=timezone,
        weekly=week(hours("09:00", "12:00"), hours("13:00", "17:00"), days=WEEKDAYS),
    )


def local_24x7(timezone: str) -> Calendar:
    """Every local day from midnight to midnight: 23 or 25 real hours on DST days."""
    return Calendar(name=f"24x7-{timezone}", timezone=timezone, weekly=week(hours("00:00", "00:00")))


def night_shift(timezone: str, *, holiday_country: str | None = None) -> Calendar:
    """Every night 22:00-06:00 local."""
    return Calendar(
        name=f"nights-{timezone}",
        timezone=timezone,
        weekly=week(hours("22:00", "06:00")),
        holiday_country=holiday_country,
    )


def new_york_office() -> Calendar:
    """America/New_York, Monday to Friday 09:00-17:00, US (New York) public holidays."""
    return Calendar(
        name="ny-office",
        timezone="America/New_York",
        weekly=week(hours("09:00", "17:00"), days=WEEKDAYS),
        holiday_country="US",
        holiday_subdivision="NY",
    )


def overlapping_shifts() -> Calendar:
    """A night shift overlapping an early shift (05:00-09:00): the overlap counts once."""
    return Calendar(
        name="overlap",
        timezone="Europe/Rome",
        weekly=week(hours("22:00", "06:00"), hours("05:00", "09:00")),
    )


def sunday_only() -> Calendar:
    """Half an hour a week: additions of days reach months ahead."""
    return Calendar(
        name="sparse", timezone="America/New_York", weekly=week(hours("10:00", "10:30"), days=(6,))
    )


def in_zone(zone: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """A wall time in ``zone`` (fold=0), e.g. ``in_zone(ROME, 2026, 3, 6, 17)``."""
    return datetime(y, mo, d, h, mi, tzinfo=zone)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)
