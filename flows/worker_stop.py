"""Stopping the worker quickly: deliveries in flight get a moment, the rest are cancelled and their
rows' leases released, serving stops, and the worker's event loop closes without waiting on what is
left. The whole stop stays within 2 s (``lifeline worker`` on SIGTERM, ``lifeline serve``, tests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from casework.history.outbox import release_leases
from flows.wake_loop import one_line
from models.db import session_scope

log = logging.getLogger("lifeline.worker")

#: On stop, deliveries in flight get this long before they are cancelled; the leases of the rows
#: they had not recorded yet are released, so the next worker sends them at once (the receiver
#: drops a resent ``notification_id``). The whole stop stays within 2 s.
STOP_GRACE = timedelta(seconds=0.3)
#: On stop, tasks still running (flow runs given up on) get this long after being cancelled.
LEFTOVER_GRACE = timedelta(seconds=0.1)
#: On stop, the worker's loops get this long to return by themselves (each checks the stop between
#: steps) before they are cancelled: a sweep's batch in flight commits or rolls back as a whole.
LOOP_GRACE = timedelta(seconds=0.2)


async def stop_loops(loops: list[asyncio.Task[None]]) -> None:
    """Give the worker's loops ``LOOP_GRACE`` to end, then cancel the rest without waiting long
    (a database call in a thread finishes on its own; its transaction commits or not)."""
    pending = {task for task in loops if not task.done()}
    if pending:
        _, pending = await asyncio.wait(pending, timeout=LOOP_GRACE.total_seconds())
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=LEFTOVER_GRACE.total_seconds())


async def stop_deliveries(deliveries: dict[asyncio.Task[Any], list[int]]) -> list[int]:
    """Give deliveries in flight ``STOP_GRACE``, then cancel the rest; the ids of the rows the
    cancelled ones had claimed (their leases are to be released)."""
    _, pending = await asyncio.wait(set(deliveries), timeout=STOP_GRACE.total_seconds())
    unfinished = [nid for task in pending for nid in deliveries.get(task, [])]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=LEFTOVER_GRACE.total_seconds())
    return unfinished


async def release_in_flight(engine: Engine, ids: list[int], clock: Callable[[], datetime]) -> None:
    """Release the leases of rows whose deliveries were cancelled, so the next worker sends them."""
    try:
        released = await asyncio.wait_for(asyncio.to_thread(_release_leases, engine, ids, clock), timeout=0.5)
    except Exception as exc:  # the rows stay leased; they are retried after the lease
        log.warning("could not release %d notification leases: %s", len(ids), one_line(exc))
        return
    log.info("stopped %d deliveries in flight; released for another attempt", released)


def _release_leases(engine: Engine, ids: list[int], clock: Callable[[], datetime]) -> int:
    with session_scope(engine) as session:
        return release_leases(session, ids, clock())


async def stop_serving(serving: asyncio.Future[None]) -> None:
    serving.cancel()
    await asyncio.wait({serving}, timeout=LEFTOVER_GRACE.total_seconds())


def close_quickly(loop: asyncio.AbstractEventLoop) -> None:
    """Close the worker's loop without waiting on what is left: unlike ``asyncio.run``, which waits
    for every cancelled task, a flow run given up on (its Prefect server gone) would spend seconds
    reporting its crash to that server. Leftovers get ``LEFTOVER_GRACE``; worker threads are not
    joined: each holds a short database call, or a sweep's task of up to ``batches_per_task``
    batches (each its own transaction), which goes on to its end unless the process exits first
    (``lifeline worker`` and ``lifeline serve`` exit at once on a signal: the batch in flight
    rolls back)."""
    loop.set_exception_handler(lambda _loop, _context: None)  # cancelled flow runs complain: ignored
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    with contextlib.suppress(Exception):
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers, timeout=LEFTOVER_GRACE.total_seconds()))
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), LEFTOVER_GRACE.total_seconds()))
    asyncio.set_event_loop(None)
    loop.close()
