"""The one failed-attempts limiter behind the API's authentication and the console's sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from casework import failed_attempts
from casework.failed_attempts import FailedAttempts

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=1)


def test_the_limit_th_failure_blocks_until_the_oldest_counted_one_leaves_the_window() -> None:
    limiter = FailedAttempts(limit=3, window=WINDOW)
    for second in (0, 10, 20):
        assert limiter.retry_after("10.0.0.1", T0 + timedelta(seconds=second)) is None
        limiter.record_failure("10.0.0.1", T0 + timedelta(seconds=second))

    assert limiter.retry_after("10.0.0.1", T0 + timedelta(seconds=20)) == 40
    assert limiter.retry_after("10.0.0.1", T0 + timedelta(seconds=59, microseconds=1)) == 1
    assert limiter.retry_after("10.0.0.1", T0 + timedelta(seconds=60)) is None
    assert limiter.retry_after("10.0.0.2", T0 + timedelta(seconds=20)) is None  # per address


def test_failures_older_than_the_window_no_longer_count() -> None:
    limiter = FailedAttempts(limit=2, window=WINDOW)
    limiter.record_failure("a", T0)
    limiter.record_failure("a", T0 + timedelta(seconds=61))

    assert limiter.retry_after("a", T0 + timedelta(seconds=61)) is None


def test_the_addresses_remembered_are_bounded_oldest_forgotten_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(failed_attempts, "MAX_ADDRESSES", 2)
    limiter = FailedAttempts(limit=1, window=WINDOW)
    for address in ("first", "second", "third"):
        limiter.record_failure(address, T0)

    assert limiter.retry_after("first", T0) is None
    assert limiter.retry_after("second", T0) == 60 and limiter.retry_after("third", T0) == 60
