"""Benchmark 2, `lateness`: how late the worker records escalations, run as users run it.

`lifeline worker` runs in its own process (one on SQLite, four on PostgreSQL, each with its own
Prefect home, all reporting to one Prefect server: bench/prefect_server.py), on a database of M
open cases none of which is due during the run. Once every worker has finished its first sweep
(Prefect warm), K cases are opened whose first deadline (the first-response warning of
account-compromised, a 24/7 policy) falls at random instants spread over the window. Afterwards,
for each of those deadlines: lateness = recorded_at - at of its event. Figures: p50, p99, max
(target: p99 <= 1 s), how many were recorded, the workers' peak memory.

    python -m bench.lateness [--quick] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from bench.common import (
    RESULTS,
    ROOT,
    Figure,
    backends,
    database_url,
    drop_database,
    emit,
    note,
    parser,
    peak_rss_mb,
    percentile,
    prefect_environment,
)
from bench.dataset import Mix, build
from bench.prefect_server import shared_prefect
from bench.templates import OPEN_AGES, attributes
from casework.cases.lifecycle import open_case
from models.db import make_engine, session_scope
from models.tables import CaseEvent

FULL = {"cases": 100_000, "deadlines": 2_000, "window": 60.0}
QUICK = {"cases": 10_000, "deadlines": 200, "window": 6.0}
POLICY = "account-compromised"
#: Template ages (minutes): open cases without breaches, as the mix wants (older ones would breach).
YOUNG = tuple(age for age in OPEN_AGES if age <= 240)
WORKERS = {"sqlite": 1, "postgresql": 4}


def start_workers(url: str, count: int) -> list[tuple[subprocess.Popen[bytes], Path]]:
    procs = []
    for i in range(count):
        env = prefect_environment(RESULTS / f"prefect-home-{i}")
        env["PREFECT_LOGGING_LEVEL"] = "INFO"
        log = RESULTS / f"lateness-worker-{i}.log"
        cmd = [
            str(ROOT / ".venv" / "bin" / "lifeline"),
            "worker",
            "--database-url",
            url,
            "--no-serve",
            "--worker-id",
            f"bench-{i}",
        ]
        with log.open("wb") as out:
            procs.append(
                (subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT), log)
            )
    return procs


def wait_warm(procs: list[tuple[subprocess.Popen[bytes], Path]], timeout: float = 180) -> None:
    """Until every worker's first flow run finished (its log says so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all("Finished in state" in log.read_text(errors="replace") for _, log in procs):
            return
        for proc, log in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a worker exited early; see {log}")
        time.sleep(0.5)
    raise RuntimeError("workers did not finish a first sweep in time")


def open_targets(
    url: str, k: int, window: float, lead_seconds: float | None = None
) -> tuple[list[str], datetime, datetime]:
    """Open ``k`` cases whose first deadline falls in the window, which starts ``lead_seconds`` from
    now (default: time to open them on a quiet machine); returns ids and the window."""
    engine = make_engine(url)
    probe_at = datetime.now(UTC)
    with session_scope(engine) as session:
        probe = open_case(
            session,
            policy_id=POLICY,
            attributes=attributes("partner", probe_at),
            actor="agent:bench",
            now=probe_at,
        ).case
        assert probe.next_deadline_at is not None
        lead = probe.next_deadline_at - probe.opened_at
        session.rollback()
    start = datetime.now(UTC) + timedelta(seconds=2 + k * 0.006 if lead_seconds is None else lead_seconds)
    rng = random.Random(8)
    deadlines = sorted(start + timedelta(seconds=rng.uniform(0, window)) for _ in range(k))
    ids = []
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for due in deadlines:
            opened = due - lead
            change = open_case(
                session,
                policy_id=POLICY,
                attributes=attributes("partner", opened),
                actor="agent:bench",
                now=now,
                opened_at=opened,
            )
            ids.append(change.case.id)
    engine.dispose()
    if datetime.now(UTC) > start:
        note("warning: opening the cases took longer than planned; the first deadlines were already past")
    return ids, start, start + timedelta(seconds=window)


def lateness(url: str, ids: list[str], end: datetime) -> list[float]:
    engine = make_engine(url)
    found = []
    with session_scope(engine, write=False) as session:
        for part in range(0, len(ids), 500):
            rows = session.exec(
                select(CaseEvent.at, CaseEvent.recorded_at).where(
                    col(CaseEvent.case_id).in_(ids[part : part + 500]),
                    col(CaseEvent.dedupe_key).is_not(None),
                    col(CaseEvent.at) <= end,
                )
            )
            found += [(rec - at).total_seconds() for at, rec in rows]
    engine.dispose()
    return found


def stop(procs: list[tuple[subprocess.Popen[bytes], Path]]) -> list[float]:
    peaks = [peak_rss_mb(proc.pid) for proc, _ in procs]
    for proc, _ in procs:
        proc.send_signal(signal.SIGTERM)
    for proc, _ in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return peaks


def bench_backend(backend: str, sizes: dict[str, float], admin_url: str) -> None:
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
        time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 3)
    finally:
        peaks = stop(procs)
    values = lateness(url, ids, end)
    tag = f"{backend}_{workers}w"
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        emit(Figure("lateness", f"{name}_{tag}", percentile(values, q), "s", 1.0 if name == "p99" else None))
    emit(Figure("lateness", f"max_{tag}", max(values) if values else float("nan"), "s"))
    emit(Figure("lateness", f"recorded_{tag}", len(values), "escalations", len(ids)))
    emit(Figure("memory", f"worker_peak_rss_{tag}", max(peaks), "MiB", 300))


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    sizes = QUICK if args.quick else FULL
    with shared_prefect(args.postgres):
        for backend in backends(args):
            bench_backend(backend, sizes, args.postgres)


if __name__ == "__main__":
    main()
