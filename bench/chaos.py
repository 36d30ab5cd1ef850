"""Benchmark `chaos`: escalation lateness while one of four workers is killed every 5 seconds.

Four `lifeline worker` processes on one PostgreSQL database of M open cases, all reporting to the
shared Prefect server; K cases are opened whose first deadline falls at random instants over the
window (as in bench/lateness.py). Every 5 s one worker, chosen at random, is killed with SIGKILL
and started again under a new id (a restarted worker sweeps at once, without waiting on Prefect).
Afterwards, for each deadline: lateness = recorded_at - at (or - the instant its case was
committed, when opening the cases on a loaded machine outlasted the deadline). Figures: p50, p99
(target <= 5 s: the baseline), max; the cases escalated (of K) and the timed events written twice
(0: the dedupe key is unique per case); the kills; how long after the window the last one was
recorded.

Alone it loads its own database and starts its four workers; `make bench` runs it after the
lateness benchmark instead (``bench.lateness --chaos``: ``after_lateness``), on that database with
its four workers, already warm.

    python -m bench.chaos [--quick]
"""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, text

from bench.common import (
    RESULTS,
    Figure,
    backends,
    database_url,
    drop_database,
    emit,
    note,
    parser,
    percentile,
)
from bench.dataset import Mix, build
from bench.deadlines import YOUNG, escalated, open_targets, timed_events
from bench.prefect_server import shared_prefect
from bench.workers import Worker, heartbeat_mode, spawn_worker, stop_worker, wait_for, worker_environment
from models.db import make_engine

FULL = {"cases": 20_000, "deadlines": 1_000, "window": 60.0}
#: Quick: 200 deadlines over 12 s, the full run's 16.7 a second, and two kills (at ~5 and ~10 s).
QUICK = {"cases": 5_000, "deadlines": 200, "window": 12.0}
WORKERS = 4
KILL_EVERY = 5.0
P99_TARGET = 5.0


class Crew:
    """The four workers, each restarted under a new id after it is killed; started here, or
    adopted already warm from the lateness benchmark (``workers``)."""

    def __init__(self, url: str, workers: list[Worker] | None = None) -> None:
        self.url = url
        self.log = RESULTS / "chaos-workers.log"
        self.log.write_bytes(b"")
        self.kills = 0
        self.workers = (
            workers if workers is not None else [self._spawn(i, f"chaos-{i}") for i in range(WORKERS)]
        )

    def _spawn(self, i: int, name: str) -> Worker:
        env = worker_environment(f"chaos-{i}", os.environ.get("PREFECT_API_URL"))
        return Worker(spawn_worker(self.url, name, self.log, env), name, self.log)

    def kill_one(self, rng: random.Random) -> None:
        i = rng.randrange(len(self.workers))
        self.workers[i].proc.send_signal(signal.SIGKILL)
        self.workers[i].proc.wait(timeout=10)
        self.kills += 1
        self.workers[i] = self._spawn(i, f"chaos-{i}-{self.kills}")

    def stop(self) -> None:
        for worker in self.workers:
            stop_worker(worker.proc)


def late_after(url: str, ids: list[str], end: datetime, committed: datetime) -> list[float]:
    """``recorded_at - at`` of each escalation in the window; for a deadline that passed before its
    case was committed (opening them is slow on a loaded machine), ``recorded_at - committed``."""
    return [
        (recorded - max(at, committed)).total_seconds() for _, at, recorded in timed_events(url, ids, end)
    ]


def duplicates(url: str, ids: list[str]) -> int:
    """Timed events written twice (the same case and dedupe key): 0 unless exactly once broke."""
    query = text(
        "SELECT COUNT(*) - COUNT(DISTINCT case_id || dedupe_key) FROM case_events "
        "WHERE dedupe_key IS NOT NULL AND case_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(query, {"ids": ids}).scalar_one())
    engine.dispose()
    return count


def run(url: str, sizes: dict[str, float]) -> None:
    """Alone: its own database of M open cases and four workers started for it."""
    loaded = datetime.now(UTC)
    quiet = loaded + timedelta(minutes=10)
    note(f"chaos: loading {int(sizes['cases']):,} open cases")
    mix = Mix(total=int(sizes["cases"]), due=0, breaches=0, resolved=0, due_at=loaded, not_before=quiet)
    build(url, mix, loaded, ages=YOUNG, resolved=()).dispose()
    crew = Crew(url)
    try:
        measure(crew, sizes)
    finally:
        crew.stop()


def measure(crew: Crew, sizes: dict[str, float]) -> None:
    """The deadlines, the kills and the figures, with ``crew``'s workers on its database."""
    url = crew.url
    engine = make_engine(url)
    rng = random.Random(20261202)
    try:
        up = lambda: all(heartbeat_mode(engine, w.worker_id) is not None for w in crew.workers)  # noqa: E731
        wait_for(up, 180, "four workers up")
        # The window starts once the cases can be open (bench/deadlines.py measures the opening here
        # and now, with the four workers beside it: 15-70 ms a case on a loaded machine, a few ms on
        # a quiet one); a deadline passed before its case is committed is measured from the commit
        # (``late_after``), so a short lead never counts the opening as lateness.
        ids, start, end = open_targets(url, int(sizes["deadlines"]), sizes["window"])
        committed = datetime.now(UTC)
        note(f"chaos: {len(ids)} deadlines {start:%H:%M:%S}-{end:%H:%M:%S}, a kill every {KILL_EVERY:.0f} s")
        time.sleep(max((start - datetime.now(UTC)).total_seconds(), 0))
        while datetime.now(UTC) + timedelta(seconds=KILL_EVERY) < end:
            time.sleep(KILL_EVERY)
            crew.kill_one(rng)
        wait_for(lambda: len(escalated(url, ids, end)) >= len(ids), 120, "every escalation")
        caught_up = (datetime.now(UTC) - end).total_seconds()
    finally:
        engine.dispose()
    values = late_after(url, ids, end, committed)
    emit(Figure("chaos", "lateness_p50_postgresql_4w_kills", percentile(values, 0.5), "s"))
    emit(Figure("chaos", "lateness_p99_postgresql_4w_kills", percentile(values, 0.99), "s", P99_TARGET))
    emit(Figure("chaos", "lateness_max_postgresql_4w_kills", max(values), "s"))
    escalated_cases = len(escalated(url, ids, end))
    emit(Figure("chaos", "cases_escalated_postgresql_4w_kills", escalated_cases, "cases", len(ids)))
    emit(Figure("chaos", "duplicate_escalations_postgresql_4w_kills", duplicates(url, ids), "events"))
    emit(Figure("chaos", "kills", crew.kills, "kills"))
    emit(Figure("chaos", "caught_up_after_window_seconds", caught_up, "s"))


def after_lateness(url: str, sizes: dict[str, float], workers: list[Worker]) -> list[Worker]:
    """Chaos on the lateness benchmark's PostgreSQL database with its four workers, warm: one
    database load and one start-up of four workers less in `make bench`; the workers running at
    the end (the caller stops them)."""
    crew = Crew(url, workers)
    try:
        measure(crew, sizes)
    finally:
        workers = crew.workers
    return workers


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    if "postgresql" not in backends(args):
        note("chaos runs on PostgreSQL only: skipped")
        return
    sizes = QUICK if args.quick else FULL
    url = database_url("postgresql", f"chaos_{int(sizes['cases'])}", args.postgres)
    drop_database(url, args.postgres)
    with shared_prefect(args.postgres):
        run(url, sizes)


if __name__ == "__main__":
    main()
