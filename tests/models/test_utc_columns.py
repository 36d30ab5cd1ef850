"""Datetimes go in and come out timezone-aware UTC on both databases; naive ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlmodel import Session, select

from models.tables import WorkerHeartbeat
from models.types import NaiveDatetimeError

PARIS_SUMMER = timezone(timedelta(hours=2))


def test_aware_datetime_round_trips_as_utc_with_microseconds(session: Session) -> None:
    written = datetime(2026, 7, 1, 14, 30, 15, 123456, tzinfo=PARIS_SUMMER)
    session.add(WorkerHeartbeat(worker_id="w1", beat_at=written))
    session.commit()
    session.expunge_all()

    read = session.exec(select(WorkerHeartbeat)).one().beat_at
    assert read.tzinfo is not None and read.utcoffset() == timedelta(0)
    assert read == written
    assert read == datetime(2026, 7, 1, 12, 30, 15, 123456, tzinfo=UTC)


def test_comparisons_in_queries_use_utc(session: Session) -> None:
    session.add(WorkerHeartbeat(worker_id="w1", beat_at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC)))
    session.commit()
    # 13:30 in UTC+2 is 11:30 UTC: before the beat, although its wall-clock reading is later.
    cutoff = datetime(2026, 7, 1, 13, 30, tzinfo=PARIS_SUMMER)
    assert session.exec(select(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < cutoff)).all() == []
    assert len(session.exec(select(WorkerHeartbeat).where(WorkerHeartbeat.beat_at > cutoff)).all()) == 1


def test_naive_datetime_is_refused_and_nothing_is_stored(session: Session) -> None:
    session.add(WorkerHeartbeat(worker_id="w1", beat_at=datetime(2026, 7, 1, 12, 0)))
    with pytest.raises(StatementError) as info:
        session.commit()
    assert isinstance(info.value.orig, NaiveDatetimeError)
    assert "naive datetime" in str(info.value)
    session.rollback()
    assert session.exec(select(WorkerHeartbeat)).all() == []


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("2026-07-01 12:30:15.123456", datetime(2026, 7, 1, 12, 30, 15, 123456, tzinfo=UTC)),
        ("2026-07-01 12:30:15", datetime(2026, 7, 1, 12, 30, 15, tzinfo=UTC)),  # SQLite's own format
        ("2026-07-01 12:30", datetime(2026, 7, 1, 12, 30, tzinfo=UTC)),
        ("2026-07-01T12:30:15.5", datetime(2026, 7, 1, 12, 30, 15, 500000, tzinfo=UTC)),
        ("2026-07-01", datetime(2026, 7, 1, tzinfo=UTC)),
        ("2026-07-01T14:30:15+02:00", datetime(2026, 7, 1, 12, 30, 15, tzinfo=UTC)),  # offset: converted
        ("2026-07-01T12:30:15Z", datetime(2026, 7, 1, 12, 30, 15, tzinfo=UTC)),
    ],
)
def test_sqlite_text_written_by_other_tools_reads_as_utc(
    session: Session, stored: str, read: datetime
) -> None:
    # SQLite keeps datetimes as text; rows loaded by raw SQL or the sqlite3 shell read like ours.
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite stores datetimes as text")
    session.execute(
        text("INSERT INTO worker_heartbeats (worker_id, beat_at) VALUES ('w1', :at)"), {"at": stored}
    )
    got = session.exec(select(WorkerHeartbeat)).one().beat_at
    assert got == read and got.tzinfo is UTC
