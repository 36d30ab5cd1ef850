"""The fast ISO text of instants is ``isoformat``'s text for every datetime, in any time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from sla_engine.instants import iso, utc_iso_micro

#: Zero, whole-minute and odd offsets (msgspec alone writes an offset of seconds as ``Z``).
OFFSETS = st.one_of(
    st.just(UTC),
    st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-23 * 60 - 59, 23 * 60 + 59)),
    st.builds(lambda s: timezone(timedelta(seconds=s)), st.integers(-86_399, 86_399)),
    st.sampled_from([ZoneInfo("Europe/London"), ZoneInfo("America/Sao_Paulo"), ZoneInfo("Asia/Kolkata")]),
)
AWARE = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(9000, 1, 1), timezones=OFFSETS, allow_imaginary=False
)


@given(st.one_of(AWARE, st.datetimes()))
def test_iso_is_isoformat(value: datetime) -> None:
    assert iso(value) == value.isoformat()


@given(AWARE)
def test_utc_iso_micro_is_the_utc_isoformat_with_microseconds(value: datetime) -> None:
    assert utc_iso_micro(value) == value.astimezone(UTC).isoformat(timespec="microseconds")


def test_whole_seconds_and_the_zero_offset_are_spelled_as_isoformat_spells_them() -> None:
    instant = datetime(2026, 12, 4, 7, 45, tzinfo=UTC)
    assert iso(instant) == "2026-12-04T07:45:00+00:00"
    assert utc_iso_micro(instant) == "2026-12-04T07:45:00.000000+00:00"
    assert iso(instant + timedelta(microseconds=100_000)) == "2026-12-04T07:45:00.100000+00:00"
