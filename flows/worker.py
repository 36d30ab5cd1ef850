"""The escalation worker: drives the `escalation-sweep` flow by the clock of the data, delivers
notifications, beats a heartbeat, and (with a Prefect server) serves both flows as deployments.

Escalations never wait on Prefect: the worker sweeps at once on start, outside a flow run, while
Prefect is prepared and probed in the background (flows/orchestrator.py); once Prefect answers,
sweeps and deliveries are flow runs, and whenever it stops answering they run the same functions
outside one again (``orchestrator: degraded`` in the log, the heartbeat and /healthz).

Embedding (``lifeline serve`` runs the worker inside the API process)::

    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(database_url, stop), daemon=True)
    thread.start()
    ...
    stop.set(); thread.join(timeout=10)

or, on the API's own event loop: ``asyncio.create_task(run_worker_async(config, stop_event))`` with
an ``asyncio.Event``. Either way the worker stops within a second or so of ``stop.set()``.

Its configuration is flows/worker_config.py; running work as flow runs unless Prefect goes away,
and serving the deployments, flows/flow_runs.py; stopping within 2 s, flows/worker_stop.py; the
heartbeat and the signed chain digests, flows/worker_upkeep.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, cast

from casework.history.outbox import OutboxItem, earliest_pending_attempt
from casework.registry.channel_names import undefined_channels
from casework.settings import Settings
from flows.database import engine_for, use_database
from flows.flow_runs import FlowRuns, serve_deployments
from flows.heap import freeze_long_lived
from flows.http_clients import close_shared_clients, shared_clients
from flows.orchestrator import Orchestrator
from flows.outbox_delivery import (
    claim_batch,
    deliver_by_channel,
    plain_group_runner,
    shared_limits,
    still_pending,
    summary,
)
from flows.sweep_batches import (
    SweepCounts,
    earliest_deadline,
    plain_batches,
    preload_policies,
    reporting_progress,
    sweep_until_done,
)
from flows.sweep_lanes import stop_lanes
from flows.wake_loop import Clock, StopSignal, drive_by_deadlines, one_line, utc_now
from flows.webhooks import load_targets
from flows.worker_config import WorkerConfig, resolve_config
from flows.worker_stop import close_quickly, release_in_flight, stop_deliveries, stop_loops, stop_serving
from flows.worker_upkeep import digest_loop, heartbeat_loop
from models.db import session_scope
from models.migrate import ensure_schema_current

log = logging.getLogger("lifeline.worker")


class Worker:
    """The worker's loops on one event loop; build it, then ``await run()``."""

    def __init__(
        self,
        config: WorkerConfig,
        stop: StopSignal,
        clock: Clock = utc_now,
        orchestrator: Orchestrator | None = None,
    ) -> None:
        self.config = config
        self.stop = stop
        self.clock = clock
        self.orchestrator = orchestrator or Orchestrator()
        use_database(config.database_url)  # the flows' database (never a flow parameter)
        self.engine = engine_for(config.database_url)
        self.kick = asyncio.Event()
        #: Delivery runs in flight, each with the ids of the rows it claimed.
        self.deliveries: dict[asyncio.Task[Any], list[int]] = {}
        #: Flow runs awaited unless Prefect goes away, and those given up on.
        self.flow_runs = FlowRuns(self.orchestrator)
        self.sweeps = 0
        self.sweeps_in_flow = 0
        self._swept_on_came_up = 0
        self._serving: asyncio.Future[None] | None = None

    async def run(self) -> None:
        await asyncio.to_thread(ensure_schema_current, self.engine)
        options = (self.config.freeze_heap, self.config.sweep_processes)  # lanes: flows.sweep_lanes
        for problem in await asyncio.to_thread(preload_policies, self.engine, *options):
            log.warning("cannot parse %s", problem)
        for line in await asyncio.to_thread(self._undefined_channels):
            log.warning("%s is not in the channels file: its notifications will be dead letters", line)
        log.info("worker %s started on %s", self.config.worker_id, self.engine.url.render_as_string(True))
        config, stop, clock = self.config, self.stop, self.clock
        beats = heartbeat_loop(self.engine, config, self.orchestrator, stop, clock)  # flows/worker_upkeep.py
        loops = [self._sweep_loop(), self._delivery_loop(), beats, self._prefect_loop()]
        if config.signing_key_file is not None:
            every = config.digest_every.total_seconds()
            loops.append(digest_loop(self.engine, config.signing_key_file, every, stop, clock))
        tasks = [asyncio.ensure_future(loop) for loop in loops]
        try:
            await self._until_stopped(tasks)
        finally:
            await stop_loops(tasks)
            await self._finish()
            log.info("worker %s stopped", self.config.worker_id)

    def _undefined_channels(self) -> list[str]:
        defined = load_targets(self.config.channels_file)
        with session_scope(self.engine, write=False) as session:
            return undefined_channels(session, defined)

    async def _until_stopped(self, tasks: list[asyncio.Task[None]]) -> None:
        """Until the stop is requested (or every loop ended); a loop's error is raised. Waiting on
        the stop itself, not on the loops: a loop busy with a sweep or a flow run would otherwise
        hold the stop for as long (a flow run sweeping a backlog: seconds)."""
        watcher = asyncio.ensure_future(self._stop_requested())
        try:
            while True:
                await asyncio.wait({watcher, *tasks}, return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        raise cast(BaseException, task.exception())
                if watcher.done() or all(task.done() for task in tasks):
                    return
        finally:
            watcher.cancel()

    async def _stop_requested(self) -> None:
        while not await self.stop.sleep(1.0):
            pass

    # -- escalations -------------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        # A catch-up sweep at once, whatever is due: without waiting for Prefect (it runs outside a
        # flow run until Prefect answers).
        try:
            await self.sweep(self.clock())
        except Exception as exc:
            log.warning("the first sweep failed (%s); the loop will retry", one_line(exc))
        await drive_by_deadlines(
            name="escalation-sweep",
            next_due=self._next_sweep_due,
            run_due=self.sweep,
            clock=self.clock,
            sleep=self.stop.sleep,
            should_stop=self.stop.is_set,
            max_idle=self.config.max_idle,
        )

    async def _next_sweep_due(self) -> datetime | None:
        """The earliest deadline; or now, once each time Prefect comes (back) up: that sweep, a flow
        run, catches up whatever fell due during the switch and pays this process's first flow run
        (Prefect's client and task engine loading, ~1 s) before a deadline has to."""
        if self.orchestrator.available and self._swept_on_came_up != self.orchestrator.came_up:
            self._swept_on_came_up = self.orchestrator.came_up
            return self.clock()
        return await asyncio.to_thread(earliest_deadline, self.engine)

    async def sweep(self, now: datetime) -> int:
        """One sweep: an `escalation-sweep` flow run while Prefect answers, else the same sweep
        function outside a flow run; returns how many cases it claimed."""
        fixed_now = None if self.clock is utc_now else now
        # While a flow run given up on is still going, Prefect is too slow: do not pile up more.
        use_prefect = self.orchestrator.available and not self.flow_runs.too_slow()
        with reporting_progress(self._wake_deliveries):  # after each task, not only at the end
            result = await self._sweep_in_flow(fixed_now) if use_prefect else None
            how = "flow run"
            if result is None:
                counts = await sweep_until_done(
                    plain_batches(self.engine),
                    self.config.batch_size,
                    self.config.max_batches,
                    fixed_now,
                    self.config.batches_per_task,
                )
                result, how = counts.to_dict(), "without Prefect"
        self.sweeps += 1
        if result.get("events"):
            log.info(
                "escalation-sweep (%s): %d cases, %d events, %d notifications, max lateness %.3f s",
                how,
                result.get("changed_cases", 0),
                result.get("events", 0),
                result.get("notifications", 0),
                result.get("max_lateness_seconds", 0.0),
            )
        return int(result.get("cases", 0))

    def _wake_deliveries(self, counts: SweepCounts) -> None:
        if counts.notifications:
            self.kick.set()

    async def _sweep_in_flow(self, now: datetime | None) -> dict[str, Any] | None:
        """The flow run's counts; None when Prefect went away meanwhile (then sweep without it)."""
        from flows.sweep import escalation_sweep

        run = escalation_sweep(
            batch_size=self.config.batch_size,
            max_batches=self.config.max_batches,
            now=now,
            batches_per_task=self.config.batches_per_task,
        )
        patience = self.config.flow_run_patience
        result = await self.flow_runs.unless_prefect_goes_away(cast(Awaitable[dict[str, Any]], run), patience)
        if result is not None:
            self.sweeps_in_flow += 1
            if self.sweeps_in_flow == 1 and self.config.freeze_heap:
                freeze_long_lived()  # what Prefect loaded for its first flow run stays (flows/heap.py)
        return result

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
        """Claim due notifications and deliver them in a run of their own (several may run at
        once, so one slow or failing receiver never holds up the others): a `deliver-notifications`
        flow run while Prefect answers, else the same delivery functions outside one."""
        if len(self.deliveries) >= self.config.max_concurrent_deliveries:
            return 0
        policy = self.config.delivery
        items = await asyncio.to_thread(
            claim_batch, self.engine, self.config.delivery_batch, policy.lease, now
        )
        if not items:
            return 0
        ids = [item.id for item in items]
        run = self._deliver_in_flow(items) if self.orchestrator.available else self._deliver_plain(items)
        task = asyncio.ensure_future(run)
        self.deliveries[task] = ids
        task.add_done_callback(self._delivery_done)
        return len(items)

    async def _deliver_in_flow(self, items: list[OutboxItem]) -> dict[str, Any]:
        """A `deliver-notifications` flow run; if Prefect goes away meanwhile, the rows it has not
        recorded yet are delivered without it (a row is recorded once, whoever sends it; a resent
        ``notification_id`` is dropped by the receiver)."""
        from flows.delivery import deliver_notifications

        policy = self.config.delivery
        ids = [item.id for item in items]
        run = deliver_notifications(
            notification_ids=ids,
            channels_file=str(self.config.channels_file) if self.config.channels_file else None,
            limit=len(ids),
            max_attempts=policy.max_attempts,
            backoff_factor=policy.backoff_factor,
            timeout_seconds=policy.timeout_seconds,
            now=None if self.clock is utc_now else self.clock(),  # as the sweep's fixed_now
        )
        result = await self.flow_runs.unless_prefect_goes_away(cast(Awaitable[Any], run), patience=None)
        if result is not None:
            return cast(dict[str, Any], result)
        return await self._deliver_plain(await asyncio.to_thread(still_pending, self.engine, ids))

    async def _deliver_plain(self, items: list[OutboxItem]) -> dict[str, Any]:
        if not items:
            return {"claimed": 0}
        policy = self.config.delivery
        targets = load_targets(self.config.channels_file)
        client = shared_clients(policy.timeout_seconds)
        runner = plain_group_runner(self.engine, client, targets, policy, shared_limits(), self.clock)
        counts = await deliver_by_channel(items, runner)
        if counts.get("dead"):
            log.error("deliver-notifications (without Prefect): %s", summary(counts))
        return counts

    def _delivery_done(self, task: asyncio.Task[Any]) -> None:
        self.deliveries.pop(task, None)
        self.kick.set()  # a slot is free: claim what is due now, not after a pause
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.error("deliver-notifications failed: %s", one_line(error))

    async def _sleep_or_kick(self, seconds: float) -> bool:
        if self.stop.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.kick.wait(), timeout=seconds)
        self.kick.clear()
        return self.stop.is_set()

    # -- Prefect ----------------------------------------------------------------------------------

    async def _prefect_loop(self) -> None:
        """Watch Prefect in the background; with a server, serve the deployments once it answers."""
        watch = asyncio.ensure_future(self.orchestrator.watch(self.stop))
        serve = self.config.should_serve()
        try:
            while not self.stop.is_set():
                if serve and self.orchestrator.available:
                    serve = False  # once: a failure to serve is logged, sweeping goes on
                    self._serving = asyncio.ensure_future(serve_deployments(self.config.worker_id))
                await self.stop.sleep(0.2)
        finally:
            watch.cancel()  # preparing Prefect may take long: it is left to its daemon thread

    # -- stopping ----------------------------------------------------------------------------------

    async def _finish(self) -> None:
        """Give deliveries in flight a moment, cancel the rest and release their rows' leases;
        stop serving; cancel abandoned flow runs and close the Prefect clients lent to flow runs.
        Bounded: well within 2 s."""
        if self.deliveries:
            unfinished = await stop_deliveries(self.deliveries)
            if unfinished:
                await release_in_flight(self.engine, unfinished, self.clock)
        if self._serving is not None:
            await stop_serving(self._serving)
        await asyncio.to_thread(stop_lanes, self.engine)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flow_runs.leave_abandoned(), timeout=0.2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(close_shared_clients(), timeout=0.2)


async def run_worker_async(
    config: WorkerConfig | Settings | str,
    stop: threading.Event | asyncio.Event | StopSignal | None = None,
    clock: Clock = utc_now,
) -> None:
    """Run the worker on the current event loop until ``stop`` is set (forever without one)."""
    resolved = resolve_config(config)
    stop_signal = stop if isinstance(stop, StopSignal) else StopSignal(stop)
    use_database(resolved.database_url)
    await Worker(resolved, stop_signal, clock).run()


def run_worker(
    config: WorkerConfig | Settings | str,
    stop: threading.Event | None = None,
    clock: Clock = utc_now,
) -> None:
    """Run the worker on a new event loop in this thread until ``stop`` is set (the API's embedding:
    call it in a thread). ``config`` may be a database URL, the LIFELINE settings or a WorkerConfig.

    Raises ``models.migrate.SchemaBehind`` if the database needs `lifeline db upgrade`."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run_worker_async(config, stop, clock))
    finally:
        close_quickly(loop)
