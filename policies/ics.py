"""Closed days from an iCalendar file (``"ics": "holidays.ics"`` in a calendar, the file beside it).

Every event closes the local dates it covers: an all-day event its dates (``DTEND`` exclusive), a
timed event the dates from its start to its end. Recurring events (``RRULE``, ``RDATE``, ``EXDATE``)
are expanded by the ``recurring-ical-events`` package over ``FIRST_YEAR`` to ``LAST_YEAR``, so a
yearly holiday rule closes its date every year. The file is read once, when the calendar loads (the
1 MiB limit of every policy file applies); problems become diagnostics, never exceptions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events

from policies.diagnostics import Diagnostic
from policies.documents import MAX_FILE_BYTES

#: The years an iCalendar file is expanded over (deadlines outside them ignore its events).
FIRST_YEAR = 2000
LAST_YEAR = 2100
#: An event longer than this is refused: it would close more than a holiday should.
MAX_EVENT_DAYS = 31


def read_ics_days(path: Path, label: str) -> tuple[frozenset[date], list[Diagnostic]]:
    """The closed dates of the iCalendar file at ``path``; ``label`` names the calendar file."""
    where = "/ics"
    try:
        raw = path.read_bytes()
    except OSError as err:
        return frozenset(), [Diagnostic(label, where, f"cannot read {path.name}: {err.strerror or err}")]
    if len(raw) > MAX_FILE_BYTES:
        return frozenset(), [Diagnostic(label, where, f"{path.name} is larger than 1 MiB")]
    try:
        parsed = icalendar.Calendar.from_ical(raw)
        events = recurring_ical_events.of(parsed).between(date(FIRST_YEAR, 1, 1), date(LAST_YEAR + 1, 1, 1))
        days: set[date] = set()
        for event in events:
            days.update(_event_days(event))
    except _TooLong as err:
        return frozenset(), [Diagnostic(label, where, f"{path.name}: {err}")]
    except Exception as err:  # noqa: BLE001 - any parse error of a user's file is a diagnostic
        return frozenset(), [Diagnostic(label, where, f"{path.name} is not a valid iCalendar file: {err}")]
    return frozenset(days), []


class _TooLong(ValueError):
    pass


def _event_days(event: Any) -> list[date]:
    start = _as_date(event["DTSTART"].dt)
    end_value = event.get("DTEND")
    if end_value is None:
        end = start + timedelta(days=1)
    else:
        raw_end = end_value.dt
        end = _as_date(raw_end)
        if isinstance(raw_end, datetime) and (raw_end.time() != datetime.min.time() or end == start):
            end += timedelta(days=1)  # a timed event closes the date it ends on too
    if (end - start).days > MAX_EVENT_DAYS:
        summary = event.get("SUMMARY", "an event")
        raise _TooLong(f"{summary!s} lasts more than {MAX_EVENT_DAYS} days")
    return [start + timedelta(days=i) for i in range(max((end - start).days, 1))]


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
