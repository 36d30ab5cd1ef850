"""The worker's timing: it wakes at the earliest deadline in the data, at least every second, and
runs the due work as soon as a deadline has passed. Clock and sleep are fakes: no test sleeps."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from flows.wake_loop import StopSignal, drive_by_deadlines, seconds_until_wake

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


class FakeWorld:
    """A clock that only moves when the loop sleeps, deadlines in the 'data', and a log of runs."""

    def __init__(self, deadlines: list[datetime], stop_at: datetime) -> None:
        self.now = T0
        self.deadlines = sorted(deadlines)
        self.stop_at = stop_at
        self.runs: list[tuple[datetime, list[datetime]]] = []
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def next_due(self) -> datetime | None:
        return self.deadlines[0] if self.deadlines else None

    async def run_due(self, now: datetime) -> int:
        due = [d for d in self.deadlines if d <= now]
        self.deadlines = [d for d in self.deadlines if d > now]
        self.runs.append((now, due))
        return len(due)

    async def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        return False

    def should_stop(self) -> bool:
        return self.now >= self.stop_at


def drive(world: FakeWorld) -> None:
    asyncio.run(
        drive_by_deadlines(
            name="test",
            next_due=world.next_due,
            run_due=world.run_due,
            clock=world.clock,
            sleep=world.sleep,
            should_stop=world.should_stop,
        )
    )


def test_each_deadline_is_run_exactly_at_its_instant_not_on_a_coarse_tick() -> None:
    deadlines = [T0 + timedelta(seconds=2.25), T0 + timedelta(seconds=7.5), T0 + timedelta(seconds=7.75)]
    world = FakeWorld(deadlines, stop_at=T0 + timedelta(seconds=10))
    drive(world)
    assert world.runs == [(d, [d]) for d in deadlines]


def test_with_nothing_due_it_still_looks_at_least_every_second() -> None:
    world = FakeWorld([], stop_at=T0 + timedelta(seconds=5))
    drive(world)
    assert world.runs == []
    assert world.sleeps and max(world.sleeps) <= 1.0


def test_a_case_added_while_it_sleeps_is_noticed_within_a_second() -> None:
    world = FakeWorld([], stop_at=T0 + timedelta(seconds=6))
    late_arrival = T0 + timedelta(seconds=3.2)

    original = world.sleep

    async def sleep_and_add(seconds: float) -> bool:
        stopped = await original(seconds)
        if world.now >= T0 + timedelta(seconds=2) and not world.runs and late_arrival not in world.deadlines:
            world.deadlines.append(late_arrival)
        return stopped

    world.sleep = sleep_and_add  # type: ignore[method-assign]
    drive(world)
    assert [run_at for run_at, _ in world.runs] == [late_arrival]


def test_missed_deadlines_from_the_past_run_at_once_on_start() -> None:
    past = [T0 - timedelta(hours=5), T0 - timedelta(hours=1)]
    world = FakeWorld(past, stop_at=T0 + timedelta(seconds=1))
    drive(world)
    assert world.runs[0] == (T0, past)


def test_a_failing_run_is_retried_and_does_not_kill_the_loop() -> None:
    world = FakeWorld([T0 + timedelta(seconds=1)], stop_at=T0 + timedelta(seconds=4))
    attempts: list[datetime] = []
    succeed = world.run_due

    async def flaky(now: datetime) -> int:
        attempts.append(now)
        if len(attempts) == 1:
            raise RuntimeError("database went away")
        return await succeed(now)

    world.run_due = flaky  # type: ignore[method-assign]
    drive(world)
    assert len(attempts) == 2 and world.runs and world.deadlines == []


@pytest.mark.parametrize(
    ("due", "expected"),
    [(None, 1.0), (T0 + timedelta(seconds=0.3), 0.3), (T0 + timedelta(seconds=9), 1.0), (T0 - SECOND, 0.0)],
)
def test_sleep_is_until_the_deadline_capped_at_a_second(due: datetime | None, expected: float) -> None:
    assert seconds_until_wake(T0, due, SECOND) == pytest.approx(expected)


@pytest.mark.parametrize("kind", ["threading", "asyncio"])
def test_a_stop_request_ends_a_sleep_early(kind: str) -> None:
    async def scenario() -> bool:
        event: threading.Event | asyncio.Event = threading.Event() if kind == "threading" else asyncio.Event()
        signal = StopSignal(event)
        asyncio.get_running_loop().call_later(0.01, event.set)
        return await signal.sleep(30)

    assert asyncio.run(asyncio.wait_for(scenario(), timeout=5)) is True
