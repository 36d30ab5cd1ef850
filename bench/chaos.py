"""Benchmark `chaos`: escalation lateness while one of four workers is killed every 5 seconds.

Four `lifeline worker` processes on one PostgreSQL database of M open cases, all reporting to the
shared Prefect server; K cases are opened whose first deadline falls at random instants over the
window (as in bench/lateness.py). Every 5 s one worker, chosen at random, is killed with SIGKILL
and started again under a new id (a restarted worker sweeps at once, without waiting on Prefect).
Afterwards, for each deadline: lateness = recorded_at - at. Figures: p50, p99 (target <= 5 s: the
baseline), max; how many of the K were recorded (each once: the dedupe key is unique per case);
the kills; how long after the window the last one was recorded.

    python -m bench.chaos [--quick]
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

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
from bench.lateness import YOUNG, lateness, open_targets
from bench.prefect_server import shared_prefect
from bench.workers import heartbeat_mode, spawn_worker, stop_worker, wait_for, worker_environment

FULL = {"cases": 20_000, "deadlines": 1_000, "window": 60.0}
QUICK = {"cases": 5_000, "deadlines": 200, "window": 20.0}
WORKERS = 4
KILL_EVERY = 5.0
P99_TARGET = 5.0


class Crew:
    """The four workers, each restarted under a new id after it is killed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.log = RESULTS / "chaos-workers.log"
        self.log.write_bytes(b"")
        self.names = [f"chaos-{i}" for i in range(WORKERS)]
        self.procs = [self._spawn(i) for i in range(WORKERS)]
        self.kills = 0

    def _spawn(self, i: int) -> subprocess.Popen[bytes]:
        env = worker_environment(f"chaos-{i}", os.environ.get("PREFECT_API_URL"))
        return spawn_worker(self.url, self.names[i], self.log, env)

    def kill_one(self, rng: random.Random) -> None:
        i = rng.randrange(WORKERS)
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait(timeout=10)
        self.kills += 1
        self.names[i] = f"chaos-{i}-{self.kills}"
        self.procs[i] = self._spawn(i)

    def stop(self) -> None:
        for proc in self.procs:
            stop_worker(proc)


def run(url: str, sizes: dict[str, float]) -> None:
    loaded = datetime.now(UTC)
    quiet = loaded + timedelta(minutes=10)
    note(f"chaos: loading {int(sizes['cases']):,} open cases")
    mix = Mix(total=int(sizes["cases"]), due=0, breaches=0, resolved=0, due_at=loaded, not_before=quiet)
    engine = build(url, mix, loaded, ages=YOUNG, resolved=())
    crew = Crew(url)
    rng = random.Random(20261202)
    try:
        up = lambda: all(heartbeat_mode(engine, name) is not None for name in crew.names)  # noqa: E731
        wait_for(up, 180, "four workers up")
        ids, start, end = open_targets(url, int(sizes["deadlines"]), sizes["window"])
        note(f"chaos: {len(ids)} deadlines {start:%H:%M:%S}-{end:%H:%M:%S}, a kill every {KILL_EVERY:.0f} s")
        while datetime.now(UTC) < end:
            time.sleep(KILL_EVERY)
            crew.kill_one(rng)
        wait_for(lambda: len(lateness(url, ids, end)) >= len(ids), 120, "every escalation")
        caught_up = (datetime.now(UTC) - end).total_seconds()
    finally:
        crew.stop()
        engine.dispose()
    values = lateness(url, ids, end)
    emit(Figure("chaos", "lateness_p50_postgresql_4w_kills", percentile(values, 0.5), "s"))
    emit(Figure("chaos", "lateness_p99_postgresql_4w_kills", percentile(values, 0.99), "s", P99_TARGET))
    emit(Figure("chaos", "lateness_max_postgresql_4w_kills", max(values), "s"))
    emit(Figure("chaos", "recorded_once_postgresql_4w_kills", len(values), "escalations", len(ids)))
    emit(Figure("chaos", "kills", crew.kills, "kills"))
    emit(Figure("chaos", "caught_up_after_window_seconds", caught_up, "s"))


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
