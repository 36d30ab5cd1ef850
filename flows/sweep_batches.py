"""One sweep batch as a plain function (no Prefect): claim due cases, apply their timers, commit.

The `escalation-sweep` flow (flows/sweep.py) runs these as Prefect tasks; tests and the crash test's
worker script call them directly. One batch is one transaction: the state, events, breaches and
outbox rows of up to ``limit`` cases commit together or not at all, so a worker killed at any moment
leaves each case either swept or untouched, and the next sweep (by any worker) picks up from there.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from sqlalchemy import Engine

from casework.cases.escalations import apply_due_timers, claim_due_rows, next_deadline
from casework.registry import policy_registry
from flows.heap import freeze_long_lived
from flows.sweep_counts import SweepCounts as SweepCounts  # where callers have imported it from
from flows.sweep_lanes import allow_lanes, ready_lanes, start_for_backlog
from flows.wake_loop import utc_now
from models.db import session_scope

DEFAULT_BATCH_SIZE = 200
#: A sweep (a flow run) stops after this many batches, 20,000 cases, so one run stays short (a few
#: seconds); the worker starts another at once. Each run costs Prefect ~0.1 s, so a backlog of
#: 10,000 took two runs at 50 (bench/README.md, "2026-12-04 (Friday night)"). The delivery loop
#: no longer waits for a run's end: it is woken after each task that queued notifications
#: (``reporting_progress``).
DEFAULT_MAX_BATCHES = 100
#: Batches one after another in one Prefect task (each still its own transaction): a task run
#: costs Prefect ~11-15 ms and a batch of 200 ~75-150 ms, so one task per batch was 7-10 % of a
#: sweep (bench/README.md, "2026-12-04 (sampled)"), ten ~1 %; 25 ~0.4 % ("2026-12-04 (Friday)"),
#: four tasks in a run of ``DEFAULT_MAX_BATCHES``.
DEFAULT_BATCHES_PER_TASK = 25
#: On PostgreSQL a task runs its batches two at a time: half of a batch's time is spent waiting for
#: the server, and a second batch's Python runs meanwhile (the plain sweep 7.6-8.1 s against
#: 8.4-8.7 s, alternated: bench/README.md, "2026-12-04 (afternoon)"). SQLite has one writer, and a
#: second thread there only slows the first: each of its statements' steps waits for the GIL
#: (measured in the same section).
POSTGRES_LANES = 2


def sweep_batch(engine: Engine, now: datetime, limit: int = DEFAULT_BATCH_SIZE) -> SweepCounts:
    """Escalate up to ``limit`` due cases in one transaction (BEGIN IMMEDIATE on SQLite, SKIP
    LOCKED on PostgreSQL), claimed as plain rows (no ORM objects to keep: casework.history.case_rows).
    A ``DuplicateTimedEvent`` rolls the whole batch back: retry it."""
    with session_scope(engine) as session:
        cases = claim_due_rows(session, now, limit)
        changes = apply_due_timers(session, cases, now) if cases else []
        return SweepCounts.of_batch(len(cases), changes)


def earliest_deadline(engine: Engine) -> datetime | None:
    """The earliest pending deadline of any case (read-only; never waits for a writer)."""
    with session_scope(engine, write=False) as session:
        return next_deadline(session)


def preload_policies(engine: Engine, freeze_heap: bool = False, sweep_processes: bool = False) -> list[str]:
    """Parse every registered policy version before the first sweep (``policy_registry.preload``);
    returns the versions that could not be parsed, for the caller to log.

    With ``freeze_heap`` (a process that is only a worker: ``lifeline worker``, the benchmarks)
    every object alive (modules, Prefect's and SQLAlchemy's machinery, the parsed policies) is
    then frozen and the collector tuned for sweeps (``flows.heap.freeze_long_lived``). Not for a
    process that hosts other work (``lifeline serve``, a test run): the full collection before
    the freeze walks that process's whole heap (seconds in a test session, delaying the first
    sweep), and what it freezes is never collected."""
    with session_scope(engine, write=False) as session:
        problems = policy_registry.preload(session)
    if sweep_processes:  # they start at the first backlog (flows.sweep_lanes)
        allow_lanes(engine)
    if freeze_heap:
        freeze_long_lived()
    return problems


def sweep_batches(engine: Engine, now: datetime | None, limit: int, batches: int) -> SweepCounts:
    """Up to ``batches`` batches of ``limit`` cases one after another, each its own transaction
    (:func:`sweep_batch`, so SQLite's write lock is held for one batch at a time and a crash loses
    at most the batch in flight), stopping after the first short one. ``now`` None: the wall clock
    at each batch. On PostgreSQL two batches run at a time (``POSTGRES_LANES``); on SQLite, once
    the worker's lane processes are ready, two are in flight in those (flows.sweep_lanes; a
    worker's start at its first backlog, and this sweep hands them its remaining batches as soon
    as they are ready)."""
    if engine.dialect.name == "postgresql" and batches > 1:
        return _in_lanes(engine, now, limit, batches, POSTGRES_LANES)
    total = SweepCounts()
    while total.batches < batches:
        lanes = ready_lanes(engine) if batches - total.batches > 1 else None
        if lanes is not None:
            total.add(lanes.sweep(engine, now, limit, batches - total.batches))
            if lanes.broken:  # a lane died: the rest here (new lanes start)
                continue
            break
        counts = sweep_batch(engine, now or utc_now(), limit)
        total.add(counts)
        if counts.cases < limit:
            break
        start_for_backlog(engine)
    return total


def _in_lanes(engine: Engine, now: datetime | None, limit: int, batches: int, lanes: int) -> SweepCounts:
    """``sweep_batches`` with ``lanes`` batches in flight at once, each its own transaction on its
    own connection (SKIP LOCKED keeps their claims apart, as it keeps two workers' apart); no new
    batch starts once one came back short. A batch that found nothing is not counted: a lane
    claiming while the other holds the last due cases finds none, which says nothing of what is due."""
    lock = threading.Lock()
    taken = [0]
    short = threading.Event()

    def lane() -> SweepCounts:
        counts = SweepCounts()
        while not short.is_set():
            with lock:
                if taken[0] >= batches:
                    break
                taken[0] += 1
            try:
                batch = sweep_batch(engine, now or utc_now(), limit)
            except BaseException:
                short.set()  # the other lanes stop too; the error reaches the caller
                raise
            if batch.cases:  # a lane that found nothing left (the other lane had the last) adds nothing
                counts.add(batch)
            if batch.cases < limit:
                short.set()
        return counts

    total = SweepCounts()
    with ThreadPoolExecutor(lanes) as pool:
        for result in [pool.submit(lane) for _ in range(lanes)]:
            total.add(result.result())
    return total


#: Runs up to ``batches`` batches of at most ``limit`` cases at ``now`` (None: the wall clock at
#: each batch), stopping after a short one: a Prefect task in a flow run, or :func:`plain_batches`
#: outside one (the worker without Prefect). Both run :func:`sweep_batches`.
BatchRunner = Callable[[datetime | None, int, int], Awaitable[SweepCounts]]


def plain_batches(engine: Engine) -> BatchRunner:
    """Batches outside any flow run, in a worker thread (the event loop stays free)."""

    async def run(now: datetime | None, limit: int, batches: int) -> SweepCounts:
        return await asyncio.to_thread(sweep_batches, engine, now, limit, batches)

    return run


#: What a sweep calls after each ``run_batches`` call (a Prefect task's batches), set by
#: ``reporting_progress``: a context variable, so that a flow run, whose parameters must be plain
#: values, reaches the worker's callback as the plain path does.
_PROGRESS: ContextVar[Callable[[SweepCounts], None] | None] = ContextVar("sweep_progress", default=None)


@contextmanager
def reporting_progress(report: Callable[[SweepCounts], None]) -> Iterator[None]:
    """Within the block, every sweep (in a flow run or not) calls ``report`` with the counts of
    each call of its batches as soon as they are committed: the worker wakes its delivery loop
    when notifications were queued, not only when the sweep ends. ``report`` runs on the event
    loop and must not block."""
    token = _PROGRESS.set(report)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


async def sweep_until_done(
    run_batches: BatchRunner,
    batch_size: int,
    max_batches: int = DEFAULT_MAX_BATCHES,
    now: datetime | None = None,
    batches_per_call: int = DEFAULT_BATCHES_PER_TASK,
) -> SweepCounts:
    """The sweep: batches until one comes back short (nothing more is due) or ``max_batches`` ran,
    ``batches_per_call`` at a time. The same function whether Prefect orchestrates it or not, so
    both write the same history."""
    total = SweepCounts()
    while total.batches < max_batches:
        wanted = min(max(1, batches_per_call), max_batches - total.batches)
        counts = await run_batches(now, batch_size, wanted)
        total.add(counts)
        report = _PROGRESS.get()
        if report is not None:
            report(counts)
        if counts.batches < wanted or counts.cases < counts.batches * batch_size:
            break
    return total
