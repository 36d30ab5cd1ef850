"""Where the sweep's time goes: the breakdown behind bench/README.md's sweep figures.

On the sweep benchmark's database (built by ``python -m bench.sweep``), in this process, without
Prefect: the due cases are swept with ``flows.sweep_batches.sweep_batch`` (the very function the
flow's task runs), timed plainly, then again under cProfile; the database is restored after each
run (``bench.sweep.Snapshot``). The profile's cumulative times are grouped into the parts of a
batch (claim, engine, hashing, row building, driver); Prefect's share is what the real flow
(``bench.sweep_runner``, same batches) takes beyond the plain run. Prints one JSON object.

    python -m bench.sweep_profile [--quick] [--backends sqlite] [--batch-size 200] [--top 0]
"""

from __future__ import annotations

import cProfile
import json
import pstats
import time
from collections.abc import Callable
from typing import Any

from bench.common import backends, note, parser
from bench.prefect_server import shared_prefect
from bench.sweep import FULL, QUICK, Snapshot, dataset, floor, run_flow
from bench.templates import SWEEP_NOW
from flows.sweep_batches import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BATCHES_PER_TASK,
    preload_policies,
    sweep_batch,
    sweep_batches,
)
from models.db import make_engine

#: The parts of a batch: (label, module path suffix, function name) whose cumulative time counts.
#: Nested parts are subtracted from their parent where they nest (see ``breakdown``).
PARTS: dict[str, tuple[str, str]] = {
    "claim (SELECT ... FOR UPDATE, Core rows)": ("casework/cases/escalations.py", "claim_due_rows"),
    "last hashes (one SELECT)": ("casework/history/case_changes.py", "last_hashes"),
    "state text -> CaseState": ("sla_engine/state.py", "state_from_json"),
    "engine (sla_engine.cases.advance)": ("sla_engine/cases.py", "advance"),
    "hashing (canonical JSON + SHA-256)": ("casework/history/hashchain.py", "body_hash"),
    "event rows (chain_events, without hashing)": ("casework/history/event_rows.py", "chain_events"),
    "case row values (state_columns)": ("casework/history/case_changes.py", "state_columns"),
    "breach/outbox rows (consequences)": ("casework/history/case_changes.py", "consequences"),
    "write_changes (all writes)": ("casework/history/batch_writes.py", "write_changes"),
    "commit": ("sqlalchemy/orm/session.py", "commit"),
}


def _cumulative(stats: pstats.Stats, path: str, name: str) -> float:
    total = 0.0
    for (filename, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and filename.endswith(path):
            total += ct
    return total


def breakdown(stats: pstats.Stats) -> dict[str, float]:
    """Seconds per part; chain_events' hashing and write_changes' row building are taken out of
    their parents, so the parts add up (the rest is ``other``)."""
    parts = {label: _cumulative(stats, *where) for label, where in PARTS.items()}
    hashing = parts["hashing (canonical JSON + SHA-256)"]
    rows = parts["event rows (chain_events, without hashing)"]
    parts["event rows (chain_events, without hashing)"] = rows - hashing
    built = rows + parts["case row values (state_columns)"] + parts["breach/outbox rows (consequences)"]
    parts["driver + SQLAlchemy (write_changes less row building)"] = (
        parts.pop("write_changes (all writes)") - built
    )
    return parts


def sweep_plain(
    url: str, batch_size: int, run: Callable[[Callable[[], None]], None], as_tasks: bool = False
) -> tuple[float, float, int]:
    """Sweep every due case with plain batches inside ``run``; returns (seconds, CPU seconds of
    this process, cases). On a shared host the CPU time is the steadier figure. ``as_tasks``: as
    the flow's tasks run them (``sweep_batches``: on PostgreSQL two batches at a time, in threads
    cProfile does not see); otherwise one ``sweep_batch`` after another in this thread."""
    engine = make_engine(url)
    preload_policies(engine, freeze_heap=True)
    counts = {"cases": 0}

    def loop() -> None:
        while True:
            if as_tasks:
                done = sweep_batches(engine, SWEEP_NOW, batch_size, DEFAULT_BATCHES_PER_TASK)
                counts["cases"] += done.cases
                if done.cases < done.batches * batch_size or done.batches < DEFAULT_BATCHES_PER_TASK:
                    return
                continue
            cases = sweep_batch(engine, SWEEP_NOW, batch_size).cases
            counts["cases"] += cases
            if cases < batch_size:
                return

    start, cpu = time.perf_counter(), time.process_time()
    run(loop)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    return seconds, cpu, counts["cases"]


def profile_backend(url: str, batch_size: int, top: int, with_flow: bool) -> dict[str, Any]:
    engine = make_engine(url)
    snapshot = Snapshot.take(engine)
    result: dict[str, Any] = {"due": len(snapshot.cases)}
    try:
        plain, plain_cpu, cases = sweep_plain(url, batch_size, lambda f: f())
        writes = snapshot.written(engine)
        snapshot.restore(engine)
        floor_seconds, _, floor_cpu = floor(engine, writes, batch_size)
        snapshot.restore(engine)
        result.update(plain_seconds=plain, plain_cpu_seconds=plain_cpu, cases=cases)
        result.update(floor_seconds=floor_seconds, floor_cpu_seconds=floor_cpu)
        result.update(plain_ratio=plain / floor_seconds, plain_cpu_ratio=plain_cpu / floor_cpu)
        profiler = cProfile.Profile(time.process_time)  # CPU: a loaded host preempts a wall timer
        profiled, _, _ = sweep_plain(url, batch_size, lambda f: profiler.runcall(f))
        snapshot.restore(engine)
        stats = pstats.Stats(profiler)
        result["profiled_seconds"] = profiled
        result["parts_profiled_seconds"] = {k: round(v, 4) for k, v in breakdown(stats).items()}
        if top:
            stats.sort_stats("tottime").print_stats(top)
        if with_flow:
            flow = run_flow(url, batch_size)
            snapshot.restore(engine)
            result.update(flow_seconds=flow["seconds"], flow_runs=flow["flow_runs"], batches=flow["batches"])
            result["prefect_seconds"] = flow["seconds"] - plain
    finally:
        engine.dispose()
    return result


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--top", type=int, default=0, help="also print the N functions of most own time")
    p.add_argument("--no-flow", action="store_true", help="skip the Prefect flow run")
    args = p.parse_args()
    size = QUICK if args.quick else FULL
    urls = [dataset(backend, size, args.postgres) for backend in backends(args)]
    for url in urls:
        note(f"profiling the sweep on {url}")
        if args.no_flow:
            print(json.dumps(profile_backend(url, args.batch_size, args.top, False)), flush=True)
        else:
            with shared_prefect(args.postgres):
                print(json.dumps(profile_backend(url, args.batch_size, args.top, True)), flush=True)


if __name__ == "__main__":
    main()
