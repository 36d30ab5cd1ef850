"""The escalation worker: drives the `escalation-sweep` flow by the clock of the data, delivers
notifications, beats a heartbeat, and (with a Prefect server) serves both flows as deployments.

Embedding (``lifeline serve`` runs the worker inside the API process)::

    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(database_url, stop), daemon=True)
    thread.start()
    ...
    stop.set(); thread.join(timeout=10)

or, on the API's own event loop: ``asyncio.create_task(run_worker_async(config, stop_event))`` with
an ``asyncio.Event``. Either way the worker stops within about a second of ``stop.set()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from casework.heartbeats import record_heartbeat
from casework.history.outbox import earliest_pending_attempt
from casework.settings import Settings, get_settings
from flows.database import engine_for, use_database
from flows.delivery import DEFAULT_BATCH, claim_batch, deliver_notifications
from flows.sweep import DEFAULT_MAX_BATCHES, escalation_sweep
from flows.sweep_batches import DEFAULT_BATCH_SIZE, earliest_deadline, preload_policies
from flows.wake_loop import DEFAULT_MAX_IDLE, Clock, StopSignal, drive_by_deadlines, utc_now
from flows.webhooks import DeliveryPolicy
from models.db import session_scope
from models.migrate import ensure_schema_current

log = logging.getLogger("lifeline.worker")

#: The name of both served deployments (`escalation-sweep/lifeline`, `deliver-notifications/lifeline`).
DEPLOYMENT_NAME = "lifeline"
#: On stop, deliveries in flight (perhaps waiting to retry) get this long before they are cancelled;
#: their rows stay leased and another worker (or this one, restarted) retries them.
STOP_GRACE = timedelta(seconds=5)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class WorkerConfig:
    """Everything the worker needs; ``from_settings`` reads the LIFELINE_* environment."""

    database_url: str
    channels_file: Path | None = None
    worker_id: str = field(default_factory=default_worker_id)
    batch_size: int = DEFAULT_BATCH_SIZE
    max_batches: int = DEFAULT_MAX_BATCHES
    max_idle: timedelta = DEFAULT_MAX_IDLE
    heartbeat_every: timedelta = timedelta(seconds=5)
    delivery: DeliveryPolicy = DeliveryPolicy()
    delivery_batch: int = DEFAULT_BATCH
    max_concurrent_deliveries: int = 4
    #: Serve both flows as Prefect deployments; None: only when PREFECT_API_URL names a server.
    serve_deployments: bool | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> WorkerConfig:
        settings = settings or get_settings()
        config = cls(database_url=settings.database_url, channels_file=settings.channels_file)
        return replace(config, **overrides)

    def should_serve(self) -> bool:
        if self.serve_deployments is not None:
            return self.serve_deployments
        return bool(os.environ.get("PREFECT_API_URL"))


class Worker:
    """The worker's loops on one event loop; build it, then ``await run()``."""

    def __init__(self, config: WorkerConfig, stop: StopSignal, clock: Clock = utc_now) -> None:
        self.config = config
        self.stop = stop
        self.clock = clock
        self.engine = engine_for(config.database_url)
        self.kick = asyncio.Event()
        self.deliveries: set[asyncio.Task[Any]] = set()
        self.sweeps = 0

    async def run(self) -> None:
        await asyncio.to_thread(ensure_schema_current, self.engine)
        for problem in await asyncio.to_thread(preload_policies, self.engine):
            log.warning("cannot parse %s", problem)
        log.info("worker %s started on %s", self.config.worker_id, self.engine.url.render_as_string(True))
        runner = await self._start_runner() if self.config.should_serve() else None
        try:
            await asyncio.gather(self._sweep_loop(), self._delivery_loop(), self._heartbeat_loop())
        finally:
            await self._finish_deliveries()
            if runner is not None:
                await runner[0].astop()
                runner[1].cancel()
            log.info("worker %s stopped", self.config.worker_id)

    # -- escalations -------------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        # A catch-up sweep at once, whatever is due: it also starts Prefect's temporary local server
        # (~10 s) now rather than at the first deadline, which would then be that late.
        try:
            await self.sweep(self.clock())
        except Exception:
            log.exception("the first sweep failed; the loop will retry")
        await drive_by_deadlines(
            name="escalation-sweep",
            next_due=lambda: asyncio.to_thread(earliest_deadline, self.engine),
            run_due=self.sweep,
            clock=self.clock,
            sleep=self.stop.sleep,
            should_stop=self.stop.is_set,
            max_idle=self.config.max_idle,
        )

    async def sweep(self, now: datetime) -> int:
        """One `escalation-sweep` flow run; returns how many cases it claimed."""
        result = await escalation_sweep(
            batch_size=self.config.batch_size,
            max_batches=self.config.max_batches,
            now=None if self.clock is utc_now else now,
        )
        self.sweeps += 1
        if result.get("notifications"):
            self.kick.set()
        return int(result.get("cases", 0))

    # -- notifications -----------------------------------------------------------------------------

    async def _delivery_loop(self) -> None:
        await drive_by_deadlines(
            name="deliver-notifications",
            next_due=lambda: asyncio.to_thread(self._earliest_attempt),
            run_due=self.start_delivery,
            clock=self.clock,
            sleep=self._sleep_or_kick,
            should_stop=self.stop.is_set,
            max_idle=self.config.max_idle,
        )

    def _earliest_attempt(self) -> datetime | None:
        with session_scope(self.engine, write=False) as session:
            return earliest_pending_attempt(session)

    async def start_delivery(self, now: datetime) -> int:
        """Claim due notifications and deliver them in a flow run of their own (several may run at
        once, so one slow or failing webhook never holds up the others)."""
        if len(self.deliveries) >= self.config.max_concurrent_deliveries:
            return 0
        policy = self.config.delivery
        limit = self.config.delivery_batch
        items = await asyncio.to_thread(claim_batch, self.engine, limit, policy.lease, now)
        if not items:
            return 0
        run = deliver_notifications(
            notification_ids=[item.id for item in items],
            channels_file=str(self.config.channels_file) if self.config.channels_file else None,
            max_attempts=policy.max_attempts,
            backoff_factor=policy.backoff_factor,
            timeout_seconds=policy.timeout_seconds,
        )
        task = asyncio.ensure_future(cast(Awaitable[Any], run))
        self.deliveries.add(task)
        task.add_done_callback(self._delivery_done)
        return len(items)

    def _delivery_done(self, task: asyncio.Task[Any]) -> None:
        self.deliveries.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("deliver-notifications failed: %s", task.exception())

    async def _sleep_or_kick(self, seconds: float) -> bool:
        if self.stop.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.kick.wait(), timeout=seconds)
        self.kick.clear()
        return self.stop.is_set()

    async def _finish_deliveries(self) -> None:
        if not self.deliveries:
            return
        _, pending = await asyncio.wait(set(self.deliveries), timeout=STOP_GRACE.total_seconds())
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- heartbeat and Prefect ---------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._beat)
            except Exception:
                log.exception("heartbeat failed")
            if await self.stop.sleep(self.config.heartbeat_every.total_seconds()):
                return

    def _beat(self) -> None:
        with session_scope(self.engine) as session:
            record_heartbeat(session, self.config.worker_id, self.clock())

    async def _start_runner(self) -> tuple[Any, asyncio.Task[None]]:
        """Serve both flows as deployments (no schedule: the worker decides when to sweep), so a
        Prefect server lists them and an operator can start a run from its UI."""
        from prefect.runner import Runner

        runner = Runner(name=f"lifeline-{self.config.worker_id}", pause_on_shutdown=False)
        for flow_ in (escalation_sweep, deliver_notifications):
            deployment = await flow_.ato_deployment(name=DEPLOYMENT_NAME)
            await cast(Awaitable[Any], runner.add_deployment(deployment))
        log.info("serving deployments escalation-sweep/%s, deliver-notifications/%s", *[DEPLOYMENT_NAME] * 2)
        return runner, asyncio.create_task(runner.start())


async def run_worker_async(
    config: WorkerConfig | Settings | str,
    stop: threading.Event | asyncio.Event | StopSignal | None = None,
    clock: Clock = utc_now,
) -> None:
    """Run the worker on the current event loop until ``stop`` is set (forever without one)."""
    resolved = _config(config)
    signal = stop if isinstance(stop, StopSignal) else StopSignal(stop)
    use_database(resolved.database_url)
    await Worker(resolved, signal, clock).run()


def run_worker(
    config: WorkerConfig | Settings | str,
    stop: threading.Event | None = None,
    clock: Clock = utc_now,
) -> None:
    """Run the worker on a new event loop in this thread until ``stop`` is set (the API's embedding:
    call it in a thread). ``config`` may be a database URL, the LIFELINE settings or a WorkerConfig.

    Raises ``models.migrate.SchemaBehind`` if the database needs `lifeline db upgrade`."""
    asyncio.run(run_worker_async(config, stop, clock))


def _config(config: WorkerConfig | Settings | str) -> WorkerConfig:
    if isinstance(config, WorkerConfig):
        return config
    if isinstance(config, Settings):
        return WorkerConfig.from_settings(config)
    return WorkerConfig.from_settings(get_settings(), database_url=config)
