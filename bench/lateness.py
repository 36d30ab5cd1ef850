"""Benchmark 2, `lateness`: how late the worker records escalations, run as users run it.

`lifeline worker` runs in its own process (one on SQLite, four on PostgreSQL, each with its own
Prefect home, all reporting to one Prefect server: bench/prefect_server.py), on a database of M
open cases none of which is due during the run. Once every worker has finished its first sweep
(Prefect warm), K cases are opened whose first deadline (the first-response warning of
account-compromised, a 24/7 policy) falls at random instants spread over the window. Afterwards,
for each of those deadlines: lateness = recorded_at - at of its event. Figures: p50, p99, max
(target: p99 <= 1 s), how many were recorded, the workers' peak memory. With ``--chaos`` (as
`run_all` calls it), the chaos benchmark follows on PostgreSQL with the same four workers.

    python -m bench.lateness [--quick] [--backends sqlite,postgresql] [--chaos]
"""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta

from bench.chaos import FULL as CHAOS_FULL
from bench.chaos import QUICK as CHAOS_QUICK
from bench.chaos import after_lateness
from bench.common import (
    RESULTS,
    Figure,
    backends,
    database_url,
    drop_database,
    emit,
    note,
    parser,
    peak_rss_mb,
    percentile,
)
from bench.dataset import Mix, build
from bench.deadlines import YOUNG, escalated, lateness, open_targets, wait_recorded
from bench.prefect_server import shared_prefect
from bench.workers import Worker, spawn_worker, wait_for, worker_environment

FULL = {"cases": 100_000, "deadlines": 2_000, "window": 60.0}
QUICK = {"cases": 10_000, "deadlines": 200, "window": 6.0}
WORKERS = {"sqlite": 1, "postgresql": 4}
#: After the window, how long a deadline not recorded yet is waited for (then it counts as missing).
TAIL = 3.0


def start_workers(url: str, count: int) -> list[Worker]:
    """``count`` workers on ``url``, each with its own Prefect home and log."""
    procs = []
    for i in range(count):
        log = RESULTS / f"lateness-worker-{i}.log"
        log.write_bytes(b"")
        procs.append(
            Worker(spawn_worker(url, f"bench-{i}", log, worker_environment(str(i))), f"bench-{i}", log)
        )
    return procs


def wait_warm(procs: list[Worker], timeout: float = 180) -> None:
    """Until every worker's first flow run finished (its log says so)."""
    warm = lambda: all("Finished in state" in w.log.read_text(errors="replace") for w in procs)  # noqa: E731
    for worker in procs:
        wait_for(warm, timeout, "every worker's first sweep", worker.proc)


def stop(procs: list[Worker]) -> None:
    for worker in procs:
        worker.proc.send_signal(signal.SIGTERM)
    for worker in procs:
        try:
            worker.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.proc.kill()


def bench_backend(
    backend: str, sizes: dict[str, float], admin_url: str, chaos: dict[str, float] | None
) -> None:
    """Lateness on ``backend``; then, with ``chaos`` sizes on PostgreSQL, the chaos benchmark on the
    same database with the same four workers, already warm (bench/chaos.py)."""
    url = database_url(backend, f"lateness_{int(sizes['cases'])}", admin_url)
    drop_database(url, admin_url)
    loaded = datetime.now(UTC)
    quiet_until = loaded + timedelta(minutes=10)
    note(f"{backend}: loading {int(sizes['cases']):,} open cases")
    build(
        url,
        Mix(total=int(sizes["cases"]), due=0, breaches=0, resolved=0, due_at=loaded, not_before=quiet_until),
        loaded,
        ages=YOUNG,
        resolved=(),
    ).dispose()
    workers = WORKERS[backend]
    note(f"{backend}: starting {workers} worker(s)")
    procs = start_workers(url, workers)
    try:
        wait_warm(procs)
        ids, start, end = open_targets(url, int(sizes["deadlines"]), sizes["window"])
        note(f"{backend}: {len(ids)} deadlines from {start:%H:%M:%S} to {end:%H:%M:%S}")
        wait_recorded(url, ids, end, TAIL)
        peaks = [peak_rss_mb(worker.proc.pid) for worker in procs]
        recorded = len(escalated(url, ids, end))
        emit_lateness(backend, workers, lateness(url, ids, end), recorded, len(ids), peaks)
        if chaos is not None and backend == "postgresql":
            procs = after_lateness(url, chaos, procs)
    finally:
        stop(procs)


def emit_lateness(
    backend: str, workers: int, values: list[float], recorded: int, deadlines: int, peaks: list[float]
) -> None:
    """The figures; ``values`` has a lateness per timed event (a deadline writes two: its warning
    and the warning's notification), ``recorded`` counts the deadlines with theirs."""
    tag = f"{backend}_{workers}w"
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        emit(Figure("lateness", f"{name}_{tag}", percentile(values, q), "s", 1.0 if name == "p99" else None))
    emit(Figure("lateness", f"max_{tag}", max(values) if values else float("nan"), "s"))
    emit(Figure("lateness", f"recorded_{tag}", recorded, "deadlines", deadlines))
    emit(Figure("memory", f"worker_peak_rss_{tag}", max(peaks), "MiB", 300))


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--chaos", action="store_true", help="then the chaos benchmark on PostgreSQL's workers")
    args = p.parse_args()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    sizes = QUICK if args.quick else FULL
    chaos = (CHAOS_QUICK if args.quick else CHAOS_FULL) if args.chaos else None
    with shared_prefect(args.postgres):
        for backend in backends(args):
            bench_backend(backend, sizes, args.postgres, chaos)


if __name__ == "__main__":
    main()
