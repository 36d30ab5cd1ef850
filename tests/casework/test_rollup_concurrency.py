"""Writers adding to the same roll-up row at once lose nothing: the counts' upsert adds in SQL, and
the sketch is merged under the row lock that upsert holds until the commit (PostgreSQL; SQLite's
one writer serialises the transactions). Two threads, each its own transactions, one shared row."""

from __future__ import annotations

import threading
from datetime import date

import sqlalchemy as sa
from sqlalchemy import Engine

from casework.history import quantile_sketch as sketch
from casework.history.rollups import ClockSums, Sums, write_sums
from models.db import session_scope
from models.tables import ROLLUP_CLOCKS

KEY = (date(2026, 3, 2), "test-policy", 1, "account_compromised", "P1", "creator-support")
ROUNDS = 25


def _writer(engine: Engine, micros: int, errors: list[BaseException]) -> None:
    try:
        for _ in range(ROUNDS):
            sums = Sums()
            clock = sums.clocks.setdefault((KEY, "first_response"), ClockSums())
            clock.met = 1
            sketch.add(clock.working, [micros])
            sketch.add(clock.wall, [micros])
            with session_scope(engine) as session:
                write_sums(session.connection(), sums)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def test_two_writers_on_one_rollup_row_lose_no_update(engine: Engine) -> None:
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_writer, args=(engine, m, errors)) for m in (600_000_000, 1_200_000_000)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with engine.connect() as conn:
        met, working = conn.execute(sa.select(ROLLUP_CLOCKS.c.met, ROLLUP_CLOCKS.c.working)).one()
    bins = sketch.decode(working)
    assert met == 2 * ROUNDS
    assert sorted(bins.values()) == [ROUNDS, ROUNDS]
    median = sketch.quantile(bins, 50)
    assert median is not None and abs(median - 900.0) <= 9.0  # of 600 s and 1200 s, within 1 %
