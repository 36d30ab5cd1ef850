"""The two phases of a sweep lane's batch (flows/sweep_lanes.py), timed apart: what runs without a
lock (reading the batch, advancing it, building its rows) and what holds the write lock (the check
that the cases are as read, the writes, the commit). With two lanes the larger phase bounds the
sweep, so this is what tells where to cut next (bench/README.md, "2026-12-05").

On the sweep benchmark's database (built by ``python -m bench.sweep``), in this process, without
Prefect or lane processes: each batch's steps run in turn, as one lane would run them; the database
is restored after each round (``bench.sweep.Snapshot``). Prints each round's seconds per phase;
the figures are the last round's, each as a ratio to the whole.

    python -m bench.sweep_phases [--quick] [--backends sqlite] [--rounds 2]
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import Engine

from bench.common import Figure, backends, emit, note, parser
from bench.sweep import FULL, QUICK, Snapshot, dataset
from bench.templates import SWEEP_NOW
from casework.cases import escalations
from casework.cases.escalations import DueKey
from flows.sweep_batches import DEFAULT_BATCH_SIZE, preload_policies
from models.db import make_engine, session_scope

PHASES = ("keys", "read", "plan", "write")


def sweep_in_phases(engine: Engine, now: datetime, limit: int) -> dict[str, float]:
    """Every due case swept a batch at a time, as a lane does; seconds per phase."""
    spent = dict.fromkeys(PHASES, 0.0)
    after: DueKey | None = None
    while True:
        started = time.perf_counter()
        with session_scope(engine, write=False) as session:
            keys = escalations.due_keys(session, now, after, limit)
        spent["keys"] += time.perf_counter() - started
        if not keys:
            return spent
        started = time.perf_counter()
        with session_scope(engine, write=False) as session:
            rows = escalations.read_due_range(session, now, after, keys[-1])
            read = time.perf_counter()
            plan = escalations.plan_due_timers(session, rows, now, prepare=True)
        planned = time.perf_counter()
        with session_scope(engine) as session:
            escalations.write_plan(session, escalations.still_as_read(session, plan), now)
        spent["read"] += read - started
        spent["plan"] += planned - read
        spent["write"] += time.perf_counter() - planned
        if len(keys) < limit:
            return spent
        after = keys[-1]


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    for backend in backends(args):
        url = dataset(backend, QUICK if args.quick else FULL, args.postgres)
        engine = make_engine(url)
        preload_policies(engine, freeze_heap=True)
        snapshot = Snapshot.take(engine)
        spent: dict[str, float] = {}
        for done in range(1, args.rounds + 1):
            spent = sweep_in_phases(engine, SWEEP_NOW, DEFAULT_BATCH_SIZE)
            snapshot.restore(engine)
            note(f"{backend}: round {done}: " + ", ".join(f"{k} {v:.2f} s" for k, v in spent.items()))
        whole = sum(spent.values())
        for phase, seconds in spent.items():
            emit(Figure("sweep_phases", f"{phase}_seconds_{backend}", seconds, "s", whole))
        engine.dispose()


if __name__ == "__main__":
    main()
