"""The `escalation-sweep` flow: escalate every case whose next deadline has passed.

The sweep itself is ``flows.sweep_batches.sweep_until_done``: the worker runs the very same function
outside a flow run while Prefect is unreachable (flows/orchestrator.py). Many cases per flow run,
one Prefect task per ``batches_per_task`` batches of ``batch_size`` cases (a flow run per case would
cost ~100 ms of orchestration each, a task ~11-15 ms; measured in docs/worker.md and
bench/README.md). Each batch commits on its own, so a
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
from flows.run_progress import flow_body
from flows.sweep_batches import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_BATCHES_PER_TASK,
    DEFAULT_MAX_BATCHES,
    SweepCounts,
    sweep_batches,
    sweep_until_done,
)


@task(name="sweep-batches", cache_policy=NO_CACHE)
async def sweep_batches_task(engine: Engine, now: datetime | None, limit: int, batches: int) -> SweepCounts:
    """Up to ``batches`` batches, each its own transaction, in a worker thread (the database calls
    are blocking; the event loop stays free)."""
    return await asyncio.to_thread(sweep_batches, engine, now, limit, batches)


@flow(name="escalation-sweep", log_prints=False)
async def escalation_sweep(
    database_url: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_batches: int = DEFAULT_MAX_BATCHES,
    now: datetime | None = None,
    batches_per_task: int = DEFAULT_BATCHES_PER_TASK,
) -> dict[str, Any]:
    """Escalate the due cases; returns counts: batches, cases, changed_cases, events, breaches,
    notifications and the lateness of the events written (max and mean, seconds).

    ``now`` defaults to the wall clock at each batch; ``database_url`` to the worker's database
    (flows/database.py), never put in the flow's parameters by the worker.
    """
    engine = engine_for(database_url)

    async def run_batches(at: datetime | None, limit: int, batches: int) -> SweepCounts:
        return await sweep_batches_task(engine, at, limit, batches)

    with flow_body():  # the worker bounds Prefect's part of the run, not this (flows/run_progress.py)
        total = await sweep_until_done(run_batches, batch_size, max_batches, now, batches_per_task)
    return total.to_dict()
