"""SQLite's sweep in two lane processes (flows.sweep_lanes): every due case escalated once, with the
history one process writes; lanes that die or lose their worker. SQLite only: PostgreSQL's lanes
are threads (tests/flows/test_sweep_batches.py)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from casework.registry import policy_registry
from flows.sweep_batches import sweep_batches
from flows.sweep_lanes import (
    ENV,
    SweepLanes,
    allow_lanes,
    ready_lanes,
    start_lanes,
    started_lanes,
    stop_lanes,
)
from models.db import make_engine, session_scope
from models.migrate import migrate
from models.tables import Case, CaseEvent
from policies.loader import bundled_calendars, bundled_policies_dir, load_policy_file
from tests.casework.builders import T0
from tests.flows.scenarios import assert_exactly_once, open_cases
from tests.flows.test_orchestrator import closed_port
from tests.flows.test_worker_process import STOP_LIMIT, stop_within, wait_until, worker_env

NOW = T0 + timedelta(hours=3)
CASES = 230  # five batches of 50, the last short


def _database(path: Path, opened: datetime = T0) -> Engine:
    """CASES cases of the bundled account_compromised policy (a lane loads it from its stored
    document, as every policy a platform registers), opened from ``opened`` in groups five minutes
    apart."""
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    policy = load_policy_file(bundled_policies_dir() / "account_compromised.json", bundled_calendars())
    with session_scope(engine) as session:
        policy_registry.register_policies(session, [policy], T0)
    for group, start in enumerate(range(0, CASES, 50)):  # ties within a group: the ids order them
        open_cases(engine, min(50, CASES - start), opened + timedelta(minutes=5 * group))
    return engine


@pytest.fixture
def laned(tmp_path: Path) -> Iterator[tuple[Engine, SweepLanes]]:
    """A SQLite file with CASES cases due at NOW, and its lanes, ready."""
    engine = _database(tmp_path / "laned.sqlite")
    lanes = start_lanes(engine)
    assert lanes is not None and lanes.wait_ready(60), "the lanes did not start"
    yield engine, lanes
    stop_lanes(engine)
    engine.dispose()


def _histories(engine: Engine) -> list[list[tuple[str, datetime, str | None, int]]]:
    """Each case's events as (kind, at, dedupe key, seq), cases in the order they were opened."""
    with session_scope(engine, write=False) as session:
        events = session.exec(select(CaseEvent).order_by(col(CaseEvent.id))).all()
    cases: dict[str, list[tuple[str, datetime, str | None, int]]] = {}
    for e in events:
        cases.setdefault(e.case_id, []).append((str(e.kind), e.at, e.dedupe_key, e.seq))
    return sorted(cases.values())


def test_two_lanes_escalate_every_due_case_once_as_one_process_does(
    laned: tuple[Engine, SweepLanes], tmp_path: Path
) -> None:
    engine, lanes = laned
    alone = _database(tmp_path / "alone.sqlite")

    counts = sweep_batches(engine, NOW, 50, 20)
    expected = sweep_batches(alone, NOW, 50, 20)

    assert ready_lanes(engine) is lanes and len(lanes.pids() - {os.getpid()}) == 2
    assert (counts.batches, counts.cases, counts.changed_cases) == (5, CASES, CASES)
    assert (counts.events, counts.breaches, counts.notifications) == (
        expected.events,
        expected.breaches,
        expected.notifications,
    )
    assert _histories(engine) == _histories(alone)  # the same escalations, chained the same way
    assert_exactly_once(engine)
    assert sweep_batches(engine, NOW, 50, 20).cases == 0  # nothing left due


def test_a_sweep_asked_for_fewer_batches_than_are_due_stops_there_and_the_next_goes_on(
    laned: tuple[Engine, SweepLanes],
) -> None:
    engine, _ = laned

    first = sweep_batches(engine, NOW, 50, 3)
    second = sweep_batches(engine, NOW, 50, 3)

    assert (first.batches, first.cases) == (3, 150)  # full: the worker sweeps again at once
    assert (second.batches, second.cases) == (2, CASES - 150)  # short: nothing more is due
    assert_exactly_once(engine)


def test_a_worker_starts_its_lanes_at_its_first_backlog_and_hands_them_the_sweeps_after(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lifeline.worker")
    engine = _database(tmp_path / "backlog.sqlite")
    allow_lanes(engine)  # what `lifeline worker` does once its policies are loaded
    try:
        few = sweep_batches(engine, NOW, 500, 20)  # every due case fits in one batch: no backlog
        assert few.cases == CASES and started_lanes(engine) is None

        open_cases(engine, CASES, T0)
        backlog = sweep_batches(engine, NOW, 50, 20)  # the first batch is full: the lanes start
        lanes = started_lanes(engine)
        assert backlog.cases == CASES and lanes is not None
        assert caplog.text.count("a backlog of due cases: starting 2 lane processes") == 1

        assert lanes.wait_ready(60)
        before = lanes.written
        open_cases(engine, CASES, T0)
        after = sweep_batches(engine, NOW, 50, 20)
        assert after.cases == CASES and lanes.written - before == 5  # every batch in the lanes
        assert started_lanes(engine) is lanes  # started once, kept
        assert caplog.text.count("starting 2 lane processes") == 1
        assert_exactly_once(engine)
    finally:
        stop_lanes(engine)
        engine.dispose()


def test_lanes_turned_off_do_not_start_at_a_backlog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "1")
    engine = _database(tmp_path / "one.sqlite")
    allow_lanes(engine)

    assert sweep_batches(engine, NOW, 50, 20).cases == CASES
    assert started_lanes(engine) is None
    assert_exactly_once(engine)
    engine.dispose()


def test_when_a_lane_dies_the_sweep_goes_on_in_the_worker_and_new_lanes_start(
    laned: tuple[Engine, SweepLanes],
) -> None:
    engine, lanes = laned
    os.kill(sorted(lanes.pids())[0], signal.SIGKILL)

    counts = sweep_batches(engine, NOW, 50, 20)

    assert counts.cases == CASES and counts.changed_cases == CASES
    assert_exactly_once(engine)
    replaced = start_lanes(engine)
    assert replaced is not None and replaced is not lanes and replaced.wait_ready(60)
    assert ready_lanes(engine) is replaced


def test_lanes_end_when_their_worker_is_killed(tmp_path: Path) -> None:
    _database(tmp_path / "orphans.sqlite").dispose()
    url = f"sqlite:///{tmp_path / 'orphans.sqlite'}"
    script = (
        "import sys, time\n"
        "from models.db import make_engine\n"
        "from flows.sweep_lanes import start_lanes\n"
        f"lanes = start_lanes(make_engine({url!r}))\n"
        "assert lanes.wait_ready(60)\n"
        "print(' '.join(map(str, lanes.pids())), flush=True)\n"
        "time.sleep(600)\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert worker.stdout is not None
    pids = [int(p) for p in worker.stdout.readline().split()]
    assert len(pids) == 2 and all(_alive(p) for p in pids)

    worker.kill()
    worker.wait()

    _assert_end_soon(pids)


def test_no_lanes_when_turned_off_or_for_a_database_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = make_engine("sqlite://")
    assert start_lanes(memory) is None
    monkeypatch.setenv(ENV, "0")
    engine = make_engine(f"sqlite:///{tmp_path / 'off.sqlite'}")
    assert start_lanes(engine) is None and ready_lanes(engine) is None


def _assert_end_soon(pids: list[int]) -> None:
    """Every one of ``pids`` ends within 15 s (a lane watches its parent once a second)."""
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a lane outlived its worker"


def _alive(pid: int) -> bool:
    """The process runs (a zombie left for a parent to reap has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_lifeline_worker_sweeps_a_sqlite_file_in_its_lanes_and_they_stop_with_it(tmp_path: Path) -> None:
    hours_ago = datetime.now(UTC) - timedelta(hours=3)
    engine = _database(tmp_path / "worker.sqlite", hours_ago)  # swept at once, in the worker's process
    env = worker_env(tmp_path, str(engine.url), f"http://127.0.0.1:{closed_port()}/api", timedelta(seconds=2))
    env.pop(ENV, None)
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-c", "from cli.main import app; app(['worker'], prog_name='lifeline')"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "sweeping in 2 lane processes (" in log.read_text(), 60, "the lanes")
        assert "a backlog of due cases: starting 2 lane processes" in log.read_text()  # 230 due: a backlog
        pids = [int(p) for p in log.read_text().split("lane processes (")[1].split(")")[0].split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        later = open_cases(engine, 450, hours_ago)  # due at once: swept by the lanes
        wait_until(lambda: _all_swept(engine, later), 60, "the cases opened once the lanes were ready")
    finally:
        code, _ = stop_within(worker, STOP_LIMIT)

    assert code == 0 and "leaked semaphore" not in log.read_text()  # the lanes' stop released them
    assert_exactly_once(engine)
    _assert_end_soon(pids)
    engine.dispose()


def _all_swept(engine: Engine, ids: list[str]) -> bool:
    """None of ``ids`` has a deadline that has passed (the worker sweeps at the wall clock)."""
    with session_scope(engine, write=False) as session:
        query = select(Case.next_deadline_at).where(col(Case.id).in_(ids))
        now = datetime.now(UTC)
        return all(deadline is None or deadline > now for deadline in session.exec(query))


def test_when_the_system_refuses_the_lanes_the_worker_sweeps_in_its_own_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = _database(tmp_path / "refused.sqlite")

    class NoSemaphores:  # the operating system's refusal (no /dev/shm, no processes left)
        def __getattr__(self, name: str) -> object:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("flows.sweep_lanes.multiprocessing.get_context", lambda _: NoSemaphores())

    assert start_lanes(engine) is None and ready_lanes(engine) is None
    assert "the lanes cannot start" in caplog.text
    assert sweep_batches(engine, NOW, 50, 20).cases == CASES
    assert_exactly_once(engine)
    engine.dispose()
