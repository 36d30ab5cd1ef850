"""Waiting, in a test, until a PostgreSQL session of the test's database waits for a lock: how a
test orders two transactions that meet on a row (never a sleep of a guessed length)."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

_WAITING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def wait_for_a_lock_wait(engine: Engine, patience: float = 20.0) -> None:
    """Return once some session of ``engine``'s database waits for a lock (fail after ``patience`` s)."""
    deadline = time.monotonic() + patience
    # Autocommit: within one transaction PostgreSQL answers pg_stat_activity from a snapshot.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while connection.execute(_WAITING).scalar_one() == 0:
            assert time.monotonic() < deadline, "no transaction came to wait for the lock"
            time.sleep(0.01)
