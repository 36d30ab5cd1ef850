"""SQLite's sweep in two processes: one plans a batch while the other writes one.

SQLite has one writer, and in one process a second thread only slows the first (every step of its
statements waits for the GIL: bench/README.md, "2026-12-04 (afternoon)"). A batch's Python is now
more than its database work ("2026-12-04 (Friday night)"), so here two *processes* (lanes) take
turns at the write lock: each reads its batch and advances it without any lock (WAL readers never
wait), then takes the lanes' shared lock, opens the write transaction (BEGIN IMMEDIATE), drops
whatever another transaction changed since it read (``casework.cases.escalations.still_as_read``),
writes and commits. The lock is a semaphore between the two, so the lane waiting for the write lock
is woken when it is free, not by SQLite's busy handler, which sleeps in steps of up to 100 ms.

The parent hands out the batches: consecutive ranges of the due index (``due_keys``), so two lanes
never plan the same case, and a range comes back short only when nothing more is due. Each batch is
still one transaction: a worker (or a lane) killed at any moment leaves every case swept or
untouched, and the history is the same as one process would write.

A process that is only a worker allows them (``allow_lanes``, from ``preload_policies``); they start
at its first backlog (``start_for_backlog``: a sweep that found a full batch with more allowed), so a
worker that only ever meets a few due cases at a time never pays their start (~1 s of CPU each) or
their memory (~116 MiB each). They are used once both have loaded the policies; until then, and on
PostgreSQL (whose lanes are threads: ``flows.sweep_batches``), sweeps run in the worker's process.
Once started they stay until the worker stops. A lane whose parent died exits within a second.
``LIFELINE_SWEEP_PROCESSES=0`` keeps every sweep in one process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from casework.cases.escalations import (
    DueKey,
    due_keys,
    plan_due_timers,
    read_due_range,
    still_as_read,
    write_plan,
)
from casework.registry import policy_registry
from casework.settings import get_settings
from flows.heap import freeze_long_lived
from flows.sweep_counts import SweepCounts
from flows.wake_loop import utc_now
from models.db import is_sqlite, make_engine, session_scope

#: Processes that sweep one SQLite database by default (``LIFELINE_SWEEP_PROCESSES``): two cores
#: here, and one is enough to keep the write lock busy while the other plans.
LANES = 2
#: Set to 0 (or 1) to sweep SQLite in the worker's own process (casework.settings).
ENV = "LIFELINE_SWEEP_PROCESSES"

log = logging.getLogger("lifeline.worker")
_lanes: dict[str, SweepLanes] = {}
#: The databases whose lanes start at their first backlog (``allow_lanes``).
_allowed: set[str] = set()
_starting = threading.Lock()


class SweepLanes:
    """The lane processes of one database file and the lock they share."""

    def __init__(self, url: str, lanes: int = LANES) -> None:
        context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._write_lock = context.Lock()
        started = context.Barrier(lanes)  # each warm-up call held until every lane has one
        self._pool = ProcessPoolExecutor(
            lanes,
            mp_context=context,
            initializer=_start_lane,
            initargs=(url, self._write_lock, started, os.getpid()),
        )
        self.lanes = lanes
        #: A lane process died (killed, out of memory): these lanes take no more batches.
        self.broken = False
        #: Batches these lanes wrote (committed), for the worker's log and the tests.
        self.written = 0
        self._warm: list[Future[int]] = [self._pool.submit(_lane_pid) for _ in range(lanes)]
        for future in self._warm:
            future.add_done_callback(self._say_ready)

    def ready(self) -> bool:
        """Both lanes have loaded the policies (a lane that failed to start is never ready)."""
        return not self.broken and all(f.done() and f.exception() is None for f in self._warm)

    def _say_ready(self, _: Future[int]) -> None:
        """Log once, when the last lane has started (or say why one did not)."""
        if not all(f.done() for f in self._warm):
            return
        failed = next((f.exception() for f in self._warm if f.exception() is not None), None)
        if failed is not None:
            log.warning("sweeping in the worker's process: a lane did not start: %r", failed)
        else:
            log.info(
                "sweeping in %d lane processes (%s)", self.lanes, " ".join(map(str, sorted(self.pids())))
            )

    def pids(self) -> set[int]:
        """The lane processes' ids (once ready)."""
        return {f.result() for f in self._warm if f.done() and f.exception() is None}

    def wait_ready(self, timeout: float) -> bool:
        wait(self._warm, timeout)
        return self.ready()

    def sweep(self, engine: Engine, now: datetime | None, limit: int, batches: int) -> SweepCounts:
        """``flows.sweep_batches.sweep_batches`` across the lanes: up to ``batches`` batches of
        ``limit`` due cases (``now`` None: the wall clock at each), no new one once a range came
        back short. An error in a batch reaches the caller once the batches in flight are done.
        When a lane process dies, the batches written are counted, no more are handed out and
        ``broken`` is set: the caller sweeps the rest in its own process."""
        total = SweepCounts()
        after: DueKey | None = None
        flying: set[Future[SweepCounts]] = set()
        handed = 0
        exhausted = False
        failure: BaseException | None = None
        while True:
            while not (exhausted or self.broken or failure) and len(flying) < self.lanes and handed < batches:
                at = now or utc_now()
                with session_scope(engine, write=False) as session:
                    keys = due_keys(session, at, after, limit)
                exhausted = len(keys) < limit
                if keys:
                    try:
                        flying.add(self._pool.submit(_sweep_range, at, after, keys[-1]))
                    except BrokenProcessPool:
                        self.broken = True
                        break
                    after = keys[-1]
                    handed += 1
            if not flying:
                break
            finished, flying = wait(flying, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    total.add(future.result())
                    self.written += 1
                except BrokenProcessPool:  # a lane died: its batch was rolled back with it
                    self.broken = True
                except BaseException as error:  # the other lane's batch finishes; no new one starts
                    failure = failure or error
        if failure is not None:
            raise failure
        return total

    def close(self) -> None:
        """Stop the lanes once their batches in flight are written (a lane still starting is not
        waited for: it ends when it has started, or with its parent). Waiting lets the pool's
        semaphores be released: a process ending with them held has the resource tracker warn."""
        self._pool.shutdown(wait=self.ready(), cancel_futures=True)
        self._warm.clear()  # their callbacks hold this object: freed now, not by a later collection


def start_lanes(engine: Engine) -> SweepLanes | None:
    """Start the lanes of ``engine``'s database (once per database; a SQLite file only, and not
    when ``LIFELINE_SWEEP_PROCESSES`` is 0 or 1). Returns at once: they load the policies meanwhile."""
    if not _can_have_lanes(engine):
        return None
    url = _url(engine)
    with _starting:
        if url not in _lanes:
            try:
                _lanes[url] = SweepLanes(url, _wanted())
            except OSError as error:  # no process or semaphore to be had: sweep here, as before
                log.warning("sweeping in the worker's process: the lanes cannot start: %s", error)
                return None
        return _lanes[url]


def allow_lanes(engine: Engine) -> None:
    """Let the lanes of ``engine``'s database start at its first backlog (``start_for_backlog``);
    for a process that is only a worker. Nothing starts now."""
    if _can_have_lanes(engine):
        with _starting:
            _allowed.add(_url(engine))


def start_for_backlog(engine: Engine) -> None:
    """A sweep found more due cases than a batch: start the lanes of ``engine``'s database if they
    are allowed and not started yet (they are used once ready, from a later batch on)."""
    url = _url(engine)
    with _starting:
        if url not in _allowed:
            return
        _allowed.discard(url)  # once: lanes the system refuses are not asked for at every batch
        if url in _lanes:  # started already (a benchmark starts them before its sweep)
            return
    log.info("a backlog of due cases: starting %d lane processes", _wanted())
    start_lanes(engine)


def started_lanes(engine: Engine) -> SweepLanes | None:
    """The lanes of ``engine``'s database if started, ready or not."""
    return _lanes.get(_url(engine))


def ready_lanes(engine: Engine) -> SweepLanes | None:
    """The lanes of ``engine``'s database once they are ready; None: sweep in this process. Lanes
    found broken are replaced (ready for a later sweep)."""
    lanes = _lanes.get(_url(engine)) if is_sqlite(engine) else None
    if lanes is not None and lanes.broken:
        with _starting:
            _lanes.pop(_url(engine), None)
        lanes.close()
        start_lanes(engine)
        return None
    return lanes if lanes is not None and lanes.ready() else None


def stop_lanes(engine: Engine) -> None:
    """Stop the lanes of ``engine``'s database, if any (``SweepLanes.close``: at most a batch's
    time, well within the worker's 2 s stop), and take back ``allow_lanes``."""
    with _starting:
        _allowed.discard(_url(engine))
        lanes = _lanes.pop(_url(engine), None)
    if lanes is not None:
        lanes.close()


def _can_have_lanes(engine: Engine) -> bool:
    """A SQLite file (not a database in memory), with ``LIFELINE_SWEEP_PROCESSES`` at 2 or more."""
    return is_sqlite(engine) and engine.url.database not in (None, "", ":memory:") and _wanted() >= 2


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _wanted() -> int:
    return get_settings().sweep_processes


# In a lane process -------------------------------------------------------------------------------

_engine: Engine | None = None
_write_lock: Any = None
_all_started: Any = None


def _start_lane(url: str, write_lock: Any, started: Any, parent: int) -> None:
    global _engine, _write_lock, _all_started
    _engine, _write_lock, _all_started = make_engine(url), write_lock, started
    with session_scope(_engine, write=False) as session:
        policy_registry.preload(session)
    freeze_long_lived()
    threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="lane-parent-watch").start()


def _exit_with(parent: int) -> None:
    """End this lane soon after its parent ends (killed or not): a SIGKILLed worker's lanes would
    otherwise wait for batches forever. A batch in flight is rolled back with the process."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _lane_pid() -> int:
    """This lane's process id, once every lane has started (so that ``ready`` means both)."""
    _all_started.wait(120)
    return os.getpid()


def _sweep_range(now: datetime, after: DueKey | None, through: DueKey) -> SweepCounts:
    """One batch: the due cases of the range read and advanced without a lock, then written in a
    transaction of their own under the lanes' lock, less any case changed meanwhile."""
    assert _engine is not None, "not a lane process"
    with session_scope(_engine, write=False) as session:
        rows = read_due_range(session, now, after, through)
        plan = plan_due_timers(session, rows, now, prepare=True)
    with _write_lock, session_scope(_engine) as session:
        changes = write_plan(session, still_as_read(session, plan), now)
    return SweepCounts.of_batch(len(rows), changes)
