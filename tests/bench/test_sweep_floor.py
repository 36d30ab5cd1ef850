"""bench/sweep.py's floor makes the sweep's writes: replayed from a snapshot, it leaves the compliance
roll-ups exactly as the sweep left them (bench/sweep_rollups.py), on both databases."""

from __future__ import annotations

from sqlalchemy import Engine

from bench.dataset import Mix, build
from bench.rawsql import raw
from bench.sweep import Snapshot, floor, rollup_tables
from bench.templates import SWEEP_NOW
from flows.sweep_batches import sweep_batches

#: A few young templates (their openings are quick) and one resolved: enough for three batches.
AGES = (0, 10, 40, 119, 300, 1440)
RESOLVED = ((600, 5, 90),)
BATCH = 100


def test_the_floor_adds_to_the_roll_ups_what_the_sweep_added(db_url: str, engine: Engine) -> None:
    build(db_url, Mix(total=400, due=260, breaches=40, resolved=20), ages=AGES, resolved=RESOLVED).dispose()
    snapshot = Snapshot.take(engine)
    assert len(snapshot.cases) >= 2 * BATCH

    swept = sweep_batches(engine, SWEEP_NOW, BATCH, 50)
    written = snapshot.written(engine)
    assert swept.cases == len(snapshot.cases)
    assert written.rollups_after != snapshot.rollups  # the sweep moved the roll-ups: a replay must too
    snapshot.restore(engine)
    assert rollup_tables(engine) == {t: sorted(rows, key=repr) for t, rows in snapshot.rollups.items()}

    _, cases, _ = floor(engine, written, BATCH)  # raises if the roll-ups end otherwise

    assert cases == swept.cases
    assert rollup_tables(engine) == written.rollups_after
    with raw(engine) as db:
        query = "SELECT COUNT(*) AS n FROM case_events WHERE id > ?"
        events = db.select(query, [snapshot.last_ids["case_events"]])
    assert events[0]["n"] == swept.events
