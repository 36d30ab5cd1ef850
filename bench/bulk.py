"""Benchmark `bulk`: a bulk acknowledge over N open cases on SQLite (10,000; quick 1,000), as
POST /v1/cases/bulk-actions and `lifeline cases bulk` run it (casework.bulk.runner.run_bulk: each
case its own transaction and version check), against a floor measured in the same run: the same
acknowledges in one transaction (no per-case commit, no isolation between cases).

Figures: `bulk_acknowledge_seconds_sqlite` (baseline: the floor; the issue's target is < 60 s),
`bulk_cases_per_second_sqlite`, `bulk_floor_seconds_sqlite`.

    python -m bench.bulk [--quick]
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from bench.common import RESULTS, Figure, emit, note, parser
from bench.templates import attributes, register_bundled
from casework.bulk.runner import Target, run_bulk
from casework.cases.lifecycle import apply_action, open_case
from models.db import make_engine, session_scope
from models.migrate import migrate

FULL, QUICK = 10_000, 1_000
ACTOR = "agent:bench"
#: Cases open at this instant; the acknowledges run a minute later (few timers fall due in between).
OPENED = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def build(path: Path, size: int) -> list[Target]:
    """A new SQLite database with ``size`` open account_compromised cases, opened by the services."""
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    try:
        register_bundled(engine, OPENED - timedelta(days=1))
        targets: list[Target] = []
        for start in range(0, size, 1000):
            with session_scope(engine) as session:
                for n in range(start, min(size, start + 1000)):
                    tier = "partner" if n % 2 else "standard"
                    change = open_case(
                        session,
                        attributes=attributes(tier, OPENED),
                        actor=ACTOR,
                        now=OPENED,
                        incident_type="account_compromised",
                    )
                    targets.append(Target(change.case.id, change.case.version))
            note(f"opened {len(targets)} cases")
        return targets
    finally:
        engine.dispose()


def timed_bulk(engine: Engine, targets: Sequence[Target], at: datetime) -> tuple[float, int]:
    started = time.perf_counter()
    results = run_bulk(engine, targets, "acknowledge", {}, ACTOR, lambda: at)
    done = sum(1 for r in results if r.result == "done")
    return time.perf_counter() - started, done


def timed_floor(engine: Engine, targets: Sequence[Target], at: datetime) -> float:
    started = time.perf_counter()
    with session_scope(engine) as session:
        for target in targets:
            apply_action(session, target.case_id, "acknowledge", {}, ACTOR, at, target.version)
    return time.perf_counter() - started


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    size = QUICK if args.quick else FULL
    RESULTS.mkdir(parents=True, exist_ok=True)
    built = RESULTS / f"bulk_{size}.sqlite"
    targets = build(built, size)
    at = OPENED + timedelta(minutes=1)
    for name in ("bulk", "floor"):
        shutil.copyfile(built, RESULTS / f"bulk_{size}_{name}.sqlite")
    bulk_engine = make_engine(f"sqlite:///{RESULTS / f'bulk_{size}_bulk.sqlite'}")
    floor_engine = make_engine(f"sqlite:///{RESULTS / f'bulk_{size}_floor.sqlite'}")
    try:
        floor = timed_floor(floor_engine, targets, at)
        note(f"floor: {size} acknowledges in one transaction in {floor:.2f} s")
        seconds, done = timed_bulk(bulk_engine, targets, at)
        note(f"bulk: {done} of {size} done in {seconds:.2f} s")
    finally:
        bulk_engine.dispose()
        floor_engine.dispose()
    emit(Figure("bulk", "bulk_acknowledge_seconds_sqlite", seconds, "s", floor))
    emit(Figure("bulk", "bulk_cases_per_second_sqlite", done / seconds, "cases/s"))
    emit(Figure("bulk", "bulk_floor_seconds_sqlite", floor, "s", 60.0))


if __name__ == "__main__":
    main()
