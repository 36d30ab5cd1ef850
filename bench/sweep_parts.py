"""What bounds the sweep's ratio to its floor: each part of a sweep timed alone, unprofiled.

On the sweep benchmark's database (built by ``python -m bench.sweep``), in this process, without
Prefect and without writing anything (every transaction is rolled back): the due cases are claimed
once, then each part of a batch runs over all of them on its own, its CPU time (least of
``--rounds``) reported in seconds and µs per case: the claim, the stored state's parse, the engine,
the new state's columns, the events and their hashes, the breach and outbox rows. Then the whole
sweep (claims and writes, one rolled-back transaction) with the CPU spent inside the driver's
``execute`` calls (SQLAlchemy cursor events): on SQLite that is the database's own work, which is
what the floor costs. Prints one JSON object per backend.

    python -m bench.sweep_parts [--quick] [--backends sqlite] [--rounds 5]
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

from bench.common import backends, note, parser
from bench.sweep import FULL, QUICK, dataset
from bench.templates import SWEEP_NOW
from casework.cases.escalations import apply_due_timers, claim_due_rows
from casework.history.case_changes import consequences, last_hashes, state_columns
from casework.history.event_rows import chain_events
from casework.history.hashchain import GENESIS_HASH
from casework.registry import policy_registry
from flows.sweep_batches import DEFAULT_BATCH_SIZE, preload_policies
from models.db import make_engine, session_scope
from sla_engine import cases as engine_steps


def least(rounds: int, work: Callable[[], object]) -> float:
    """The least CPU seconds of ``rounds`` runs of ``work``."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def sweep_rolled_back(engine: Engine, batch_size: int) -> int:
    """Every due case swept in one transaction, rolled back; the cases claimed."""
    done = 0
    with session_scope(engine) as session:
        while True:
            rows = claim_due_rows(session, SWEEP_NOW, batch_size)
            apply_due_timers(session, rows, SWEEP_NOW)
            done += len(rows)
            if len(rows) < batch_size:
                break
        session.rollback()
    return done


def parts(engine: Engine, batch_size: int, rounds: int) -> dict[str, Any]:
    with session_scope(engine) as session:
        rows = claim_due_rows(session, SWEEP_NOW, 10**9)
        hashes = last_hashes(session, rows)
        policies = {
            (r.policy_id, r.policy_version): policy_registry.get_policy(
                session, r.policy_id, r.policy_version
            )
            for r in rows
        }
        session.rollback()
    batches = -(-len(rows) // batch_size)

    def claim() -> None:
        with session_scope(engine) as session:
            for _ in range(batches):  # the same first batch each time: nothing is written
                claim_due_rows(session, SWEEP_NOW, batch_size)
            session.rollback()

    states = [r.read_state() for r in rows]
    steps = [
        engine_steps.advance(*policies[(r.policy_id, r.policy_version)], s, SWEEP_NOW)
        for r, s in zip(rows, states, strict=True)
    ]
    changed = [(r, s) for r, s in zip(rows, steps, strict=True) if s.events]
    chains = [(r, chain_events(r, s.events, SWEEP_NOW, hashes.get(r.id, GENESIS_HASH))) for r, s in changed]
    seconds = {
        "claim (Core SELECTs, rows decoded)": least(rounds, claim),
        "stored state text -> CaseState": least(rounds, lambda: [r.read_state() for r in rows]),
        "engine (sla_engine.cases.advance)": least(
            rounds,
            lambda: [
                engine_steps.advance(*policies[(r.policy_id, r.policy_version)], s, SWEEP_NOW)
                for r, s in zip(rows, states, strict=True)
            ],
        ),
        "new state -> columns (state_columns)": least(
            rounds, lambda: [state_columns(s.state, r.attributes) for r, s in changed]
        ),
        "events and hashes (chain_events)": least(
            rounds,
            lambda: [
                chain_events(r, s.events, SWEEP_NOW, hashes.get(r.id, GENESIS_HASH)) for r, s in changed
            ],
        ),
        "breach and outbox rows (consequences)": least(
            rounds, lambda: [consequences(r, c, SWEEP_NOW) for r, c in chains]
        ),
    }
    in_driver = [0.0]
    started: list[float] = []

    def before(*_: object) -> None:
        started.append(time.process_time())

    def after(*_: object) -> None:
        in_driver[0] += time.process_time() - started.pop()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    whole, driver = float("inf"), 0.0
    for _ in range(rounds):
        in_driver[0] = 0.0
        took = least(1, lambda: sweep_rolled_back(engine, batch_size))
        if took < whole:
            whole, driver = took, in_driver[0]
    event.remove(engine, "before_cursor_execute", before)
    event.remove(engine, "after_cursor_execute", after)
    seconds["whole sweep, rolled back (no commits)"] = whole
    seconds["of which inside the driver's execute calls"] = driver
    cases = len(rows)
    return {
        "cases": cases,
        "changed": len(changed),
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "us_per_case": {k: round(v / cases * 1e6, 1) for k, v in seconds.items()},
    }


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    size = QUICK if args.quick else FULL
    for url in [dataset(backend, size, args.postgres) for backend in backends(args)]:
        note(f"timing the sweep's parts on {url}")
        engine = make_engine(url)
        preload_policies(engine, freeze_heap=True)
        try:
            print(json.dumps(parts(engine, args.batch_size, args.rounds)), flush=True)
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
