"""Benchmark `worker_start`: from spawning `lifeline worker` to its first recorded escalation, and
from SIGTERM to its exit.

On a SQLite database with the bundled policies, a few cases are opened whose first deadlines
have just passed when `lifeline worker` is spawned as operators start it, with PREFECT_API_URL
naming the shared Prefect server (`prefect`), naming a port nothing answers at (`unreachable`), or
unset (`none`: the worker starts Prefect's temporary server in the background). Figures, per mode:
start = the earliest ``recorded_at`` of those cases' timed events minus the instant of the spawn
(target <= 3 s: the baseline), the worst of the runs; and stop = SIGTERM to exit, after the first
sweep (target <= 2 s, exit code 0). The import floor (``python -c "import cli.main"``, measured in
the same run) says how much of the start is Python loading the code on this machine.

    python -m bench.worker_start [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, text

from bench.common import RESULTS, ROOT, Figure, database_url, drop_database, emit, note, parser
from bench.deadlines import open_targets
from bench.prefect_server import shared_prefect
from bench.templates import register_bundled
from bench.workers import spawn_worker, stop_worker, unreachable_prefect_url, wait_for, worker_environment
from models.db import make_engine
from models.migrate import upgrade

MODES = ("prefect", "unreachable", "none")
START_TARGET, STOP_TARGET = 3.0, 2.0


def first_escalation(engine: Engine, case_ids: list[str]) -> datetime | None:
    query = text(
        "SELECT MIN(recorded_at) FROM case_events WHERE dedupe_key IS NOT NULL AND case_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    with engine.connect() as conn:
        value = conn.execute(query, {"ids": case_ids}).scalar_one()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is None:
        return None
    found: datetime = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return found


def environment(mode: str, prefect_url: str | None) -> dict[str, str]:
    if mode == "prefect":
        return worker_environment("start-prefect", prefect_url)
    if mode == "unreachable":
        return worker_environment("start-unreachable", unreachable_prefect_url())
    env = worker_environment("start-none")
    env.pop("PREFECT_API_URL", None)
    return env


def one_start(
    url: str, engine: Engine, mode: str, prefect_url: str | None, run: int
) -> tuple[float, float, int | None]:
    """(seconds to the first escalation, seconds to stop, exit code) of one worker."""
    # Their first deadlines 0.5-0.6 s from now (opening three takes ~0.1 s at load 7): the worker
    # is spawned just after they passed, as soon as possible.
    case_ids, _, due = open_targets(url, 3, 0.1, lead_seconds=0.5)
    time.sleep(max((due - datetime.now(UTC)).total_seconds(), 0) + 0.2)
    log = RESULTS / f"worker-start-{mode}-{run}.log"
    log.write_bytes(b"")
    spawned = datetime.now(UTC)
    proc = spawn_worker(url, f"bench-start-{mode}-{run}", log, environment(mode, prefect_url))
    try:
        wait_for(lambda: first_escalation(engine, case_ids) is not None, 120, "a first escalation", proc)
    finally:
        code, took = stop_worker(proc)
    first = first_escalation(engine, case_ids)
    assert first is not None
    return (first - spawned).total_seconds(), took, code


def import_floor() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import cli.main"], cwd=ROOT, check=True)
    return time.perf_counter() - start


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    runs = 1 if args.quick else 3
    url = database_url("sqlite", "worker_start")
    drop_database(url)
    engine = make_engine(url)
    upgrade(engine)
    register_bundled(engine, datetime.now(UTC))
    floor = import_floor()
    note(f"importing the CLI: {floor:.2f} s")
    emit(Figure("worker_start", "cli_import_seconds", floor, "s", START_TARGET))
    with shared_prefect(args.postgres):
        prefect_url = os.environ.get("PREFECT_API_URL")
        for mode in MODES:
            results = [one_start(url, engine, mode, prefect_url, run) for run in range(runs)]
            note(
                f"{mode}: " + ", ".join(f"start {s:.2f} s, stop {t:.2f} s (exit {c})" for s, t, c in results)
            )
            emit(
                Figure(
                    "worker_start",
                    f"first_escalation_seconds_{mode}",
                    max(s for s, _, _ in results),
                    "s",
                    START_TARGET,
                )
            )
            emit(
                Figure(
                    "worker_start", f"stop_seconds_{mode}", max(t for _, t, _ in results), "s", STOP_TARGET
                )
            )
            clean = sum(1 for _, t, c in results if c == 0 and t < STOP_TARGET)
            emit(Figure("worker_start", f"clean_stops_{mode}", clean, "stops", len(results)))
    engine.dispose()


if __name__ == "__main__":
    main()
