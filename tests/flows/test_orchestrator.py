"""Escalations never wait on Prefect: a worker whose Prefect server is down (or not there yet)
sweeps at once with the same sweep function outside a flow run, writes the same history, says so
(one log line, its heartbeat's ``orchestrator``), and returns to flow runs when Prefect answers."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from flows.orchestrator import Mode, Orchestrator, probe_health
from flows.wake_loop import StopSignal
from flows.worker import Worker
from flows.worker_config import WorkerConfig
from models.db import session_scope
from models.tables import WorkerHeartbeat
from tests.casework.builders import T0
from tests.flows.scenarios import STEP, open_cases, register_ladder
from tests.flows.test_crash_exactly_once import assert_every_case_escalated_exactly_as_the_engine_says
from tests.serve_process import free_port

#: The worker must sweep within 3 s of starting, whatever Prefect is doing.
FIRST_SWEEP_LIMIT = 3.0


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    return free_port()


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@contextmanager
def running(worker: Worker) -> Iterator[None]:
    """The worker on a thread of its own while the block runs.

    A full garbage collection first. A whole-suite run keeps earlier tests' apps and engines alive
    (FastAPI's dependency caches and schemathesis' schema in pytest's config hold them, among
    others): 2 million objects after the API tests, where a collection of every generation takes
    1.2 s, and ~4 s near the suite's end. One falling due inside the 3 s a worker has to its first
    sweep stops the test process, not just the worker (CI failed so twice). After a full
    collection the next is a quarter of the heap's growth away, far beyond what a worker's start
    allocates."""
    gc.collect()
    thread = threading.Thread(target=contextvars.copy_context().run, args=(asyncio.run, worker.run()))
    thread.start()
    try:
        yield
    finally:
        worker.stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the worker did not stop within 10 s"


class Lines(logging.Handler):
    """The worker's log lines, kept by a handler on its own logger (Prefect reconfigures logging
    when its first flow runs, which pytest's capture does not survive)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def worker_log() -> Iterator[Lines]:
    logger = logging.getLogger("lifeline.worker")
    lines, level = Lines(), logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)


def heartbeat_mode(engine: Engine) -> str | None:
    with session_scope(engine, write=False) as session:
        row = session.exec(select(WorkerHeartbeat)).first()
        return row.orchestrator if row else None


def degraded_worker(db_url: str, prepare: Callable[[], str | None], now_offset: timedelta) -> Worker:
    config = WorkerConfig(
        database_url=db_url, heartbeat_every=timedelta(seconds=0.2), serve_deployments=False
    )
    orchestrator = Orchestrator(prepare=prepare, probe_every=timedelta(seconds=0.2))
    now = T0 + now_offset
    return Worker(config, StopSignal(threading.Event()), clock=lambda: now, orchestrator=orchestrator)


def test_with_its_prefect_server_down_the_worker_escalates_within_3_s_of_starting(
    engine: Engine, db_url: str
) -> None:
    register_ladder(engine, STEP)
    case_ids = open_cases(engine, 20, T0)
    down = f"http://127.0.0.1:{closed_port()}/api"  # PREFECT_API_URL pointing at a closed port
    worker = degraded_worker(db_url, lambda: down, now_offset=10 * STEP)

    started = time.monotonic()
    with worker_log() as log, running(worker):
        assert wait_until(lambda: worker.sweeps >= 1, timeout=FIRST_SWEEP_LIMIT), "no sweep within 3 s"
        first_sweep = time.monotonic() - started
        assert wait_until(lambda: heartbeat_mode(engine) == "degraded", timeout=5)
        assert wait_until(lambda: worker.orchestrator.api_url == down, timeout=5)
        time.sleep(0.5)  # a few probes more: still one log line

    print(f"first sweep {first_sweep:.2f} s after start")
    assert worker.sweeps_in_flow == 0 and worker.orchestrator.mode is Mode.DEGRADED
    # The same history a flow run writes: every timer as the engine says, each once.
    assert_every_case_escalated_exactly_as_the_engine_says(engine, case_ids, T0 + 10 * STEP)
    degraded_lines = [m for m in log.messages if m.startswith("orchestrator: degraded")]
    assert len(degraded_lines) == 1, degraded_lines


def test_a_worker_never_waits_for_prefect_to_be_prepared(engine: Engine, db_url: str) -> None:
    """Importing Prefect or starting its temporary server (tens of seconds) happens beside the sweeps."""
    register_ladder(engine, STEP)
    case_ids = open_cases(engine, 5, T0)
    release = threading.Event()

    def slow_prepare() -> str | None:
        release.wait(30)
        return None

    worker = degraded_worker(db_url, slow_prepare, now_offset=10 * STEP)
    try:
        with running(worker):
            assert wait_until(lambda: worker.sweeps >= 1, timeout=FIRST_SWEEP_LIMIT)
            assert heartbeat_mode(engine) in (None, "degraded")
    finally:
        release.set()
    assert_every_case_escalated_exactly_as_the_engine_says(engine, case_ids, T0 + 10 * STEP)


def test_the_probe_says_no_to_a_closed_port_quickly() -> None:
    gc.collect()  # as ``running`` does: no collection of a whole suite's heap inside the 2 s
    started = time.monotonic()
    assert asyncio.run(probe_health(f"http://127.0.0.1:{closed_port()}/api")) is False
    assert time.monotonic() - started < 2.0


def switchable_worker(
    db_url: str, answering: threading.Event, heartbeat_every: timedelta = timedelta(seconds=0.2)
) -> Worker:
    """A worker on the test harness's Prefect whose health probe says what ``answering`` says: the
    test turns Prefect "down" and "up" without stopping the server."""
    from prefect.settings import PREFECT_API_URL

    async def probe(_url: str) -> bool:
        return answering.is_set()

    config = WorkerConfig(
        database_url=db_url,
        heartbeat_every=heartbeat_every,
        serve_deployments=False,
        flow_run_patience=timedelta(seconds=60),  # a loaded test machine's flow runs are slow
    )
    orchestrator = Orchestrator(
        prepare=lambda: str(PREFECT_API_URL.value()), probe=probe, probe_every=timedelta(seconds=0.1)
    )
    return Worker(config, StopSignal(threading.Event()), orchestrator=orchestrator)


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_harness")
def test_sweeps_are_flow_runs_while_prefect_answers_and_plain_while_it_does_not(
    engine: Engine, db_url: str
) -> None:
    register_ladder(engine, timedelta(seconds=1))  # each case's timers fall due over ~5 s
    open_cases(engine, 1, datetime.now(UTC))
    answering = threading.Event()
    worker = switchable_worker(db_url, answering)
    with worker_log() as log, running(worker):
        assert wait_until(lambda: worker.sweeps >= 1 and heartbeat_mode(engine) == "degraded", timeout=10)
        answering.set()
        open_cases(engine, 1, datetime.now(UTC))
        assert wait_until(lambda: worker.sweeps_in_flow >= 1, timeout=30), "no flow run once Prefect answered"
        assert wait_until(lambda: heartbeat_mode(engine) == "prefect", timeout=5)
        answering.clear()
        assert wait_until(lambda: heartbeat_mode(engine) == "degraded", timeout=5)
        in_flow = worker.sweeps_in_flow
        sweeps = worker.sweeps
        open_cases(engine, 1, datetime.now(UTC))
        assert wait_until(lambda: worker.sweeps >= sweeps + 2, timeout=10)
        assert worker.sweeps_in_flow <= in_flow + 1  # at most the one in flight when it went away
    messages = [m for m in log.messages if m.startswith("orchestrator:")]
    assert [m.split(" ", 2)[1] for m in messages] == ["degraded", "prefect", "degraded"], messages


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_harness")
def test_the_heartbeat_tells_a_change_of_mode_at_once_not_a_beat_later(engine: Engine, db_url: str) -> None:
    """Beats are a minute apart here: the stored mode still follows Prefect within seconds, both
    ways (a script waiting for ``prefect`` before it starts work does not wait out an interval)."""
    answering = threading.Event()
    worker = switchable_worker(db_url, answering, heartbeat_every=timedelta(minutes=1))
    with running(worker):
        assert wait_until(lambda: heartbeat_mode(engine) == "degraded", timeout=10)
        answering.set()
        assert wait_until(lambda: heartbeat_mode(engine) == "prefect", timeout=5)
        answering.clear()
        assert wait_until(lambda: heartbeat_mode(engine) == "degraded", timeout=5)


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_harness")
def test_each_time_prefect_comes_up_the_worker_sweeps_once_in_a_flow_run_even_with_nothing_due(
    engine: Engine, db_url: str
) -> None:
    """That sweep catches up what fell due during the switch and pays the process's first flow run
    before a deadline has to (bench/README.md: lateness)."""
    register_ladder(engine, STEP)
    open_cases(engine, 1, datetime.now(UTC) + timedelta(days=1))  # nothing due for a day
    answering = threading.Event()
    worker = switchable_worker(db_url, answering)
    with running(worker):
        assert wait_until(lambda: heartbeat_mode(engine) == "degraded", timeout=10)
        time.sleep(1.5)  # idle and degraded: no flow run
        assert worker.sweeps_in_flow == 0
        answering.set()
        assert wait_until(lambda: worker.sweeps_in_flow == 1, timeout=30), "no sweep when Prefect came up"
        time.sleep(1.5)  # still nothing due: no more
        assert worker.sweeps_in_flow == 1
        answering.clear()
        assert wait_until(lambda: heartbeat_mode(engine) == "degraded", timeout=5)
        answering.set()
        assert wait_until(lambda: worker.sweeps_in_flow == 2, timeout=30), "no sweep when Prefect came back"
