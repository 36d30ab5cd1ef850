"""Business time on a calendar: add working time to an instant, measure working time between two.

A calendar's working hours are wall-clock intervals in its IANA time zone. Each *local day* D is
turned, once, into a sorted tuple of disjoint UTC segments: the intervals that start on D or on D-1
(an overnight shift runs into D), converted to UTC, clipped to D's window
``[midnight D, midnight D+1)`` and merged. The windows partition the time line, so ``add`` and
``elapsed`` just walk days (``elapsed`` whole weeks at once between its first and last day) and sum
real (UTC) seconds of overlap; this is what makes the arithmetic
exact across DST changes (a 22:00-06:00 shift lasts 9 real hours on the night clocks go back, 7 on
the night they go forward) and additive (``elapsed(a, b) + elapsed(b, c) == elapsed(a, c)``).

Wall time to instant, the one rule used everywhere (interval ends, midnights): a local wall time maps
to the *earliest instant whose wall time is at or after it*.

- An ambiguous time (clocks go back) is therefore its first occurrence: ``fold=0``.
- A nonexistent time (in the spring-forward gap) maps forward to the end of the gap, the transition
  instant: a shift starting at 02:30 in Europe/Rome on the last Sunday of March starts at 03:00 CEST.

The rule is monotonic, so an interval never turns negative and day windows never overlap.

A holiday (country list from the ``holidays`` package, plus ``extra_holidays``) means no interval
*starts* on that local date; an overnight shift that started the day before still runs into it.
``extra_working_days`` cancels a country holiday (it does not open a day the weekly hours keep
closed); an explicit ``extra_holidays`` entry always closes the date. A ``DayRule`` (a yearly
``MM-DD`` holiday, or a date with special hours such as a half day) replaces that date's weekly
hours and wins over the country list; a rule for a given year wins over a yearly one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from policies.model import Calendar, DayRule, WorkingInterval

ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)
ONE_WEEK = timedelta(days=7)
#: How many consecutive local days without working time ``add`` scans before giving up.
MAX_CLOSED_DAYS = 3 * 366
#: Bound on each per-day cache; it is cleared (not evicted one by one) when full.
CACHE_LIMIT = 20_000

Segment = tuple[datetime, datetime]
V = TypeVar("V")


def _remember(cache: dict[date, V], day: date, value: V) -> V:
    """Store ``value`` for ``day`` and return it; a full cache is cleared first (``CACHE_LIMIT``)."""
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[day] = value
    return value


class BusinessCalendar:
    """Working-time arithmetic on one ``Calendar``. All instants are timezone-aware; results are UTC.

    Pure and deterministic: no clock, no I/O. Per-day segments and per-year holiday sets are cached
    on the instance, so share one instance per calendar across many cases.
    """

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self.zone = _zone(calendar)
        if not calendar.always and len(calendar.weekly) not in (0, 7):
            raise ValueError(
                f"calendar {calendar.name!r}: weekly needs 7 entries (Monday first), "
                f"got {len(calendar.weekly)}"
            )
        self._days: dict[date, tuple[Segment, ...]] = {}
        self._midnights: dict[date, datetime] = {}
        self._day_totals: dict[date, timedelta] = {}
        self._week_totals: dict[date, timedelta] = {}
        self._holidays: dict[int, frozenset[date]] = {}
        if calendar.holiday_country is not None and not calendar.always:
            self._country_holidays(2000)  # fail early, with a clear message, on an unknown country

    # -- public API -------------------------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of working time has elapsed since ``start``.

        Counting starts at ``start``, or at the next working instant if ``start`` is outside working
        hours; a zero duration returns ``start`` itself (in UTC) even outside working hours. Raises
        ValueError for a negative duration, a naive ``start``, or a calendar with no working time in
        the next three years.
        """
        begin = _utc(start, "start")
        if duration < ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        if self.calendar.always or duration == ZERO:
            return begin + duration
        remaining = duration
        for seg_start, seg_end in self._segments_from(begin):
            available = seg_end - seg_start
            if remaining <= available:
                return seg_start + remaining
            remaining -= available
        raise AssertionError("unreachable: _segments_from is infinite or raises")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Working time between ``start`` and ``end`` in real seconds (zero if ``end <= start``).

        The first and last local days are clipped to ``[start, end)``; every day between lies
        wholly inside, so it adds its whole working time, summed a week at a time from a cache
        (near constant time for long spans, e.g. a breach months old). Sums of timedeltas are exact,
        so this equals adding each day's clipped segments one by one."""
        a, b = _utc(start, "start"), _utc(end, "end")
        if b <= a:
            return ZERO
        if self.calendar.always:
            return b - a
        first, last = self._day_of(a), self._day_of(b)
        total = self._clipped(first, a, b)
        if last > first:
            total += self._whole_days(first + ONE_DAY, last) + self._clipped(last, a, b)
        return total

    def local(self, dt: datetime) -> datetime:
        """``dt`` as wall time in the calendar's zone (for display, e.g. the simulate table)."""
        return _utc(dt, "dt").astimezone(self.zone)

    def is_working(self, dt: datetime) -> bool:
        """Whether ``dt`` falls inside working hours (intervals are half-open: the end is not)."""
        t = _utc(dt, "dt")
        if self.calendar.always:
            return True
        return any(lo <= t < hi for lo, hi in self.segments(self._day_of(t)))

    def next_working_instant(self, dt: datetime) -> datetime:
        """``dt`` itself (in UTC) if it is working time, else the start of the next working interval."""
        t = _utc(dt, "dt")
        if self.calendar.always:
            return t
        return next(self._segments_from(t))[0]

    def segments(self, day: date) -> tuple[Segment, ...]:
        """The working time inside local day ``day``'s window, as sorted disjoint UTC segments."""
        cached = self._days.get(day)
        if cached is None:
            cached = _remember(self._days, day, self._compute_segments(day))
        return cached

    def day_rule(self, day: date) -> DayRule | None:
        """The calendar's own rule for local date ``day``: a rule for that year's date first, then a
        yearly one; None when the weekly hours and holidays decide."""
        rules = [r for r in self.calendar.day_rules if r.applies(day)]
        rules.sort(key=lambda r: r.year is None)
        return rules[0] if rules else None

    def is_holiday(self, day: date) -> bool:
        """Whether no interval starts on local date ``day`` because it is a holiday."""
        cal = self.calendar
        if day in cal.extra_holidays:
            return True
        rule = self.day_rule(day) if cal.day_rules else None
        if rule is not None:
            return not rule.hours
        if cal.holiday_country is None or day in cal.extra_working_days:
            return False
        return day in self._country_holidays(day.year)

    # -- days, windows and segments ---------------------------------------------------------------

    def _segments_from(self, t: datetime) -> Iterator[Segment]:
        """Working segments from ``t`` on, the first clipped to start at ``t``; endless, but raises
        ValueError after ``MAX_CLOSED_DAYS`` consecutive days without working time."""
        day, closed = self._day_of(t), 0
        while closed < MAX_CLOSED_DAYS:
            found = False
            for seg_start, seg_end in self.segments(day):
                if seg_end > t:
                    found = True
                    yield max(seg_start, t), seg_end
            closed = 0 if found else closed + 1
            day += ONE_DAY
        raise ValueError(
            f"calendar {self.calendar.name!r} has no working time in {MAX_CLOSED_DAYS} days "
            f"from {t.isoformat()}: check its weekly hours and holidays"
        )

    def _clipped(self, day: date, a: datetime, b: datetime) -> timedelta:
        """Working time of ``day`` inside ``[a, b)``."""
        total = ZERO
        for seg_start, seg_end in self.segments(day):
            lo, hi = max(seg_start, a), min(seg_end, b)
            if hi > lo:
                total += hi - lo
        return total

    def _whole_days(self, first: date, stop: date) -> timedelta:
        """Working time of the local days ``first`` up to (not including) ``stop``, whole."""
        total, day = ZERO, first
        while day < stop:
            if day.toordinal() % 7 == 0 and day + ONE_WEEK <= stop:
                total += self._week_total(day)
                day += ONE_WEEK
            else:
                total += self._day_total(day)
                day += ONE_DAY
        return total

    def _day_total(self, day: date) -> timedelta:
        cached = self._day_totals.get(day)
        if cached is None:
            total = sum((hi - lo for lo, hi in self.segments(day)), ZERO)
            cached = _remember(self._day_totals, day, total)
        return cached

    def _week_total(self, day: date) -> timedelta:
        """Working time of the seven local days from ``day`` (a Sunday: weeks never overlap)."""
        cached = self._week_totals.get(day)
        if cached is None:
            week = (self._day_total(day + timedelta(days=i)) for i in range(7))
            cached = _remember(self._week_totals, day, sum(week, ZERO))
        return cached

    def _day_of(self, t: datetime) -> date:
        """The local day whose window holds instant ``t`` (its local date, except in odd zones
        whose clocks jump across midnight)."""
        day = t.astimezone(self.zone).date()
        while t < self._midnight(day):
            day -= ONE_DAY
        while t >= self._midnight(day + ONE_DAY):
            day += ONE_DAY
        return day

    def _midnight(self, day: date) -> datetime:
        """Start of ``day``'s window: local midnight as an instant."""
        instant = self._midnights.get(day)
        if instant is None:
            instant = _remember(self._midnights, day, self._to_utc(datetime.combine(day, time())))
        return instant

    def _compute_segments(self, day: date) -> tuple[Segment, ...]:
        window_start, window_end = self._midnight(day), self._midnight(day + ONE_DAY)
        raw: list[Segment] = []
        for start_day in (day - ONE_DAY, day):
            for lo, hi in self._intervals_starting(start_day):
                lo, hi = max(lo, window_start), min(hi, window_end)
                if hi > lo:
                    raw.append((lo, hi))
        return _merge(raw)

    def _intervals_starting(self, day: date) -> Iterator[Segment]:
        """The UTC intervals that start on local date ``day`` (none on a holiday; a date's own
        hours instead of the weekly ones)."""
        for interval in self._day_hours(day):
            end_day = day + ONE_DAY if interval.overnight else day
            lo = self._to_utc(datetime.combine(day, interval.start))
            hi = self._to_utc(datetime.combine(end_day, interval.end))
            if hi > lo:
                yield lo, hi

    def _day_hours(self, day: date) -> tuple[WorkingInterval, ...]:
        cal = self.calendar
        if day in cal.extra_holidays:
            return ()
        rule = self.day_rule(day) if cal.day_rules else None
        if rule is not None:
            return rule.hours
        if not cal.weekly or not cal.weekly[day.weekday()] or self.is_holiday(day):
            return ()
        return cal.weekly[day.weekday()]

    def _to_utc(self, wall: datetime) -> datetime:
        """The earliest instant whose wall time in the zone is at or after naive ``wall``."""
        first = wall.replace(tzinfo=self.zone).astimezone(UTC)  # fold=0: ambiguous -> first
        if first.astimezone(self.zone).replace(tzinfo=None) == wall:
            return first
        # ``wall`` is in a spring-forward gap: fold=1 reads it with the later offset, which lands
        # before the transition; fold=0 lands after. Bisect (whole seconds) for the transition.
        lo = int(wall.replace(tzinfo=self.zone, fold=1).timestamp()) - 1
        hi = int(first.timestamp()) + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, self.zone).replace(tzinfo=None) >= wall:
                hi = mid
            else:
                lo = mid
        return datetime.fromtimestamp(hi, UTC)

    def _country_holidays(self, year: int) -> frozenset[date]:
        cached = self._holidays.get(year)
        if cached is None:
            cal = self.calendar
            try:
                found = holidays.country_holidays(
                    cal.holiday_country or "", subdiv=cal.holiday_subdivision, years=year
                )
            except NotImplementedError as exc:
                raise ValueError(
                    f"calendar {cal.name!r}: unknown holiday country/subdivision "
                    f"{cal.holiday_country!r}/{cal.holiday_subdivision!r}: {exc}"
                ) from exc
            cached = self._holidays[year] = frozenset(found.keys())
        return cached


def _zone(calendar: Calendar) -> ZoneInfo:
    try:
        return ZoneInfo(calendar.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"calendar {calendar.name!r}: unknown IANA timezone {calendar.timezone!r}") from exc


def _utc(dt: datetime, name: str) -> datetime:
    if dt.tzinfo is UTC:  # most instants already are (stored, or converted): no conversion to make
        return dt
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {dt.isoformat()}")
    return dt.astimezone(UTC)


def _merge(segments: list[Segment]) -> tuple[Segment, ...]:
    """Sort and merge overlapping or touching segments."""
    merged: list[Segment] = []
    for lo, hi in sorted(segments):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)
