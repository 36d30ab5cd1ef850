"""Business time on a calendar: add working time to an instant, measure working time between two.

(Interface; the implementation lands with the business-time work.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from policies.model import Calendar


class BusinessCalendar:
    """Working-time arithmetic on one ``Calendar``. All instants are timezone-aware; results are UTC."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of working time has elapsed since ``start``."""
        if self.calendar.always:
            return start + duration
        raise NotImplementedError("business calendars land with the business-time work")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between ``start`` and ``end`` (zero if ``end <= start``)."""
        if self.calendar.always:
            return max(end - start, timedelta(0))
        raise NotImplementedError("business calendars land with the business-time work")
