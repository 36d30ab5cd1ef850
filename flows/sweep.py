"""The `escalation-sweep` flow: escalate every case whose next deadline has passed.

Many cases per flow run, one Prefect task per batch of ``batch_size`` (a flow run per case would cost
~100 ms of orchestration each; measured in docs/worker.md). Each batch commits on its own, so a
crash loses at most the batch in flight, which the next sweep redoes; a timer's dedupe key makes it
impossible to write the same escalation twice. Policies are parsed once per version and cached
(casework.registry.policy_registry).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from flows.database import engine_for
from flows.sweep_batches import DEFAULT_BATCH_SIZE, SweepCounts, sweep_batch
from flows.wake_loop import utc_now

#: A sweep stops after this many batches so one flow run stays short; the worker starts another.
DEFAULT_MAX_BATCHES = 50


@task(name="sweep-batch", cache_policy=NO_CACHE)
async def sweep_batch_task(engine: Engine, now: datetime, limit: int) -> SweepCounts:
    """One batch in a worker thread (the database calls are blocking; the event loop stays free)."""
    return await asyncio.to_thread(sweep_batch, engine, now, limit)


async def sweep_until_done(
    engine: Engine, batch_size: int, max_batches: int, now: datetime | None = None
) -> SweepCounts:
    """Run batches until one comes back short (nothing more is due) or ``max_batches`` ran."""
    total = SweepCounts()
    for _ in range(max_batches):
        counts = await sweep_batch_task(engine, now or utc_now(), batch_size)
        total.add(counts)
        if counts.cases < batch_size:
            break
    return total


@flow(name="escalation-sweep", log_prints=False)
async def escalation_sweep(
    database_url: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = DEFAULT_MAX_BATCHES,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Escalate the due cases; returns counts: batches, cases, changed_cases, events, breaches,
    notifications and the lateness of the events written (max and mean, seconds).

    ``now`` defaults to the wall clock at each batch; ``database_url`` to the worker's database
    (flows/database.py), never put in the flow's parameters by the worker.
    """
    total = await sweep_until_done(engine_for(database_url), batch_size, max_batches, now)
    return total.to_dict()
