"""When the worker wakes: at the earliest deadline in the data, and at least every ``max_idle``.

A fixed coarse tick (Zammad's 5 minutes, Zendesk's hour) makes escalations late by up to the tick.
Here the loop asks the data for its earliest due instant, sleeps exactly until then (or ``max_idle``,
whichever is sooner, so a new or changed case is noticed within a second), and runs the due work as
soon as that instant has passed. Clock and sleep are injected so tests never sleep.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: Sleeps up to the given seconds; returns True when the worker was asked to stop meanwhile.
Sleep = Callable[[float], Awaitable[bool]]
#: The earliest due instant in the data (None: nothing pending).
NextDue = Callable[[], Awaitable[datetime | None]]
#: Runs the due work at ``now``; returns how many items it processed (0: someone else had them).
RunDue = Callable[[datetime], Awaitable[int]]

DEFAULT_MAX_IDLE = timedelta(seconds=1)
#: How often a stop given as a ``threading.Event`` is looked at while sleeping.
STOP_POLL = 0.05
#: After a run that found nothing to claim (another worker holds the rows) or failed, wait this long
#: before looking again rather than spin.
CONTENDED_PAUSE = timedelta(milliseconds=200)


def utc_now() -> datetime:
    return datetime.now(UTC)


def one_line(exc: BaseException) -> str:
    """An error as one log line: its type and the first line of its message (a driver error's own
    message, not SQLAlchemy's statement and parameters)."""
    cause = getattr(exc, "orig", None) or exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__


def seconds_until_wake(now: datetime, next_due: datetime | None, max_idle: timedelta) -> float:
    """How long to sleep: until ``next_due`` but never longer than ``max_idle``, never negative."""
    limit = max_idle.total_seconds()
    if next_due is None:
        return limit
    return min(max((next_due - now).total_seconds(), 0.0), limit)


class StopSignal:
    """A stop request the worker can wait on: a ``threading.Event`` (worker in a thread of another
    process, e.g. ``lifeline serve``) or an ``asyncio.Event`` (worker as a task on the same loop)."""

    def __init__(self, event: threading.Event | asyncio.Event | None = None) -> None:
        self.event: threading.Event | asyncio.Event = event if event is not None else asyncio.Event()

    def is_set(self) -> bool:
        return self.event.is_set()

    def set(self) -> None:
        self.event.set()

    async def sleep(self, seconds: float) -> bool:
        """Wait up to ``seconds`` or until the stop is requested; True if it was."""
        if self.event.is_set():
            return True
        if seconds <= 0:
            await asyncio.sleep(0)
            return self.event.is_set()
        if isinstance(self.event, threading.Event):
            return await self._poll(self.event, seconds)
        try:
            await asyncio.wait_for(self.event.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    @staticmethod
    async def _poll(event: threading.Event, seconds: float) -> bool:
        """Wait on a ``threading.Event`` by looking every ``STOP_POLL`` on the loop itself, not in a
        worker thread: the default thread pool (6 threads on 2 cores) was seen busy with 250 queued
        database writes, and a stop waiting behind them took 4.7 s."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not event.is_set():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(STOP_POLL, remaining))
        return True


async def drive_by_deadlines(
    *,
    name: str,
    next_due: NextDue,
    run_due: RunDue,
    clock: Clock,
    sleep: Sleep,
    should_stop: Callable[[], bool],
    max_idle: timedelta = DEFAULT_MAX_IDLE,
) -> None:
    """Loop until ``should_stop()``: run the due work whenever the earliest due instant has passed,
    otherwise sleep until it (at most ``max_idle``). A failing run is logged and retried after a
    short pause; the loop never dies of it."""
    while not should_stop():
        try:
            due = await next_due()
            now = clock()
            if due is not None and due <= now:
                if await run_due(now) > 0:
                    continue
                pause = CONTENDED_PAUSE.total_seconds()
            else:
                pause = seconds_until_wake(now, due, max_idle)
        except Exception as exc:  # one line per retry (a database outage must not flood the log)
            log.warning("%s: %s; retrying in %.1f s", name, one_line(exc), max_idle.total_seconds())
            pause = max_idle.total_seconds()
        if await sleep(pause):
            return
