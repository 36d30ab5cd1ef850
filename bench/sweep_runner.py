"""Child process of the sweep benchmark: escalate every case due at an instant with the real
`escalation-sweep` flow (Prefect, async, a task per 25 batches), as the worker calls it. bench/sweep.py
forks it (``run``); alone it is a command.

Policies are parsed and Prefect is warmed first (a sweep at an instant when nothing is due),
then flow runs follow one another until one claims nothing. Prints one JSON object on stdout:
seconds, the summed counts and this process's peak resident memory.

    python -m bench.sweep_runner URL ISO_INSTANT BATCH_SIZE
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any


async def sweep_all(url: str, now: datetime, batch_size: int) -> dict[str, Any]:
    from flows.prefect_clients import PrefectClients

    clients = PrefectClients()
    await clients.ready(0)  # the worker lends one pair to all its flow runs (flows/prefect_clients.py)
    try:
        with clients.lent():
            return await _sweep_all(url, now, batch_size)
    finally:
        await clients.close()


async def _sweep_all(url: str, now: datetime, batch_size: int) -> dict[str, Any]:
    from flows.database import engine_for, use_database
    from flows.heap import freeze_long_lived
    from flows.sweep import escalation_sweep
    from flows.sweep_batches import preload_policies
    from flows.sweep_lanes import start_lanes

    use_database(url)
    # As `lifeline worker` does before its first sweep. On SQLite its lane processes start at its
    # first backlog (flows.sweep_lanes); here they are started outright after the first flow run
    # and waited for, as a worker that has met a backlog before has them.
    preload_policies(engine_for(url), freeze_heap=True)
    await escalation_sweep(batch_size=batch_size, max_batches=1, now=datetime(2000, 1, 1, tzinfo=now.tzinfo))
    freeze_long_lived()  # as the worker does after its first flow run (flows/heap.py)
    lanes = start_lanes(engine_for(url))
    if lanes is not None and not lanes.wait_ready(60):
        raise RuntimeError("the sweep's lane processes did not start")
    totals: dict[str, float] = {}
    runs = 0
    with collections_timed() as collector:
        start = time.perf_counter()
        while True:
            result = await escalation_sweep(batch_size=batch_size, now=now)
            runs += 1
            for key, value in result.items():
                totals[key] = totals.get(key, 0) + value
            if result.get("cases", 0) < result.get("batches", 0) * batch_size:
                break  # the flow stopped on a short batch: nothing more is due
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "flow_runs": runs, **totals, **collector}


@contextmanager
def collections_timed() -> Iterator[dict[str, float]]:
    """The garbage collector's work meanwhile, filled in as it happens: ``gc_seconds`` and
    ``gc_collections`` (every generation's; flows/heap.py)."""
    found = {"gc_seconds": 0.0, "gc_collections": 0.0}
    started = [0.0]

    def timed(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        found["gc_seconds"] += time.perf_counter() - started[0]
        found["gc_collections"] += 1

    gc.callbacks.append(timed)
    try:
        yield found
    finally:
        gc.callbacks.remove(timed)


def run(url: str, now: datetime, batch_size: int) -> dict[str, Any]:
    """``sweep_all`` and this process's peak memory: what bench/sweep.py reads of a run."""
    from bench.common import peak_rss_mb
    from flows.database import engine_for
    from flows.sweep_lanes import ready_lanes, stop_lanes

    result = asyncio.run(sweep_all(url, now, batch_size))
    result["peak_rss_mb"] = peak_rss_mb()
    lanes = ready_lanes(engine_for(url))
    result["lane_peak_rss_mb"] = (
        max((peak_rss_mb(pid) for pid in lanes.pids()), default=0.0) if lanes else 0.0
    )
    stop_lanes(engine_for(url))
    return result


def main() -> None:
    url, instant, batch = sys.argv[1], datetime.fromisoformat(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(run(url, instant, batch)), flush=True)


if __name__ == "__main__":
    main()
