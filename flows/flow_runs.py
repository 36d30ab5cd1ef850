"""Running the worker's work as Prefect flow runs while Prefect answers, and giving up on a run
(left running, its result ignored) when Prefect goes away or is too slow, so the caller runs the same
functions without Prefect (``orchestrator: degraded``); and serving both flows as deployments."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, cast

import httpx

from flows.orchestrator import Orchestrator
from flows.prefect_clients import PrefectClients
from flows.run_progress import Progress, watching
from flows.wake_loop import one_line

log = logging.getLogger("lifeline.worker")

#: The name of both served deployments (`escalation-sweep/lifeline`, `deliver-notifications/lifeline`).
DEPLOYMENT_NAME = "lifeline"


class FlowRuns:
    """Flow runs awaited unless Prefect goes away, and those given up on."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.orchestrator = orchestrator
        #: Flow runs given up on (their batches commit or not), each with the orchestrator's
        #: ``came_up`` when it started: which time Prefect was up.
        self.abandoned: dict[asyncio.Future[Any], int] = {}
        #: Prefect's clients, lent to every flow run started here (flows/prefect_clients.py).
        self.clients = PrefectClients()

    async def unless_prefect_goes_away(self, run: Awaitable[Any], patience: timedelta | None) -> Any | None:
        """Await a flow run, or give up on it (left running, its result ignored) as soon as Prefect
        stops answering, or when Prefect's part before the flow's body or after it takes longer
        than ``patience`` (a server too busy to start or finish the run: the deadlines do not wait
        for it; flows/run_progress.py). The body's own work is not bounded by ``patience``: a
        sweep of a backlog takes seconds. None when given up or when it failed for want of Prefect; the
        caller then sweeps without it (a timer's dedupe key and the batch's lock make the two
        sweeps write each escalation once).

        ``run`` must not have started (a flow's coroutine starts when awaited): it runs with the
        clients held for this time Prefect is up, and watched."""
        progress = Progress()
        generation = self.orchestrator.came_up
        await self.clients.ready(generation)
        with self.clients.lent(), watching(progress):
            task = asyncio.ensure_future(run)
        await self._until_settled(task, progress, patience)
        if not task.done():
            self.abandoned[task] = generation
            task.add_done_callback(self._forget_abandoned)
            return None
        exc = task.exception()
        if exc is None:
            return task.result()
        if is_orchestration_error(exc):
            self.orchestrator.mark_unreachable(f"a flow run failed: {one_line(exc)}")
            return None
        raise exc

    async def _until_settled(
        self, task: asyncio.Future[Any], progress: Progress, patience: timedelta | None
    ) -> None:
        """Until the run is done; earlier (the run still going) once Prefect went away, or when the
        body has not begun within ``patience``, or the run has not finished within ``patience`` of
        the body's end. A flow whose body marks nothing is bounded by ``patience`` as a whole."""
        limit = patience.total_seconds() if patience is not None else None
        down = asyncio.ensure_future(self.orchestrator.went_down())
        began = asyncio.ensure_future(progress.began.wait())
        ended = asyncio.ensure_future(progress.ended.wait())
        try:
            for mark, timeout in ((began, limit), (ended, None), (None, limit)):
                waiting = {task, down} if mark is None else {task, down, mark}
                await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if task.done() or down.done() or mark is None or not mark.done():
                    return
        finally:
            for waiter in (down, began, ended):
                waiter.cancel()

    def too_slow(self) -> bool:
        """Whether a flow run given up on during this time Prefect is up is still going: then
        Prefect is too slow to start more. A run given up on before Prefect last came (back) up
        was talking to a server that went away, and its client retries with back-off for up to a
        minute: it is cancelled here (its batch in flight commits or not), so a restarted
        Prefect server gets the worker's sweeps back as flow runs at once."""
        current = self.orchestrator.came_up
        for run, generation in list(self.abandoned.items()):
            if generation != current:
                run.cancel()
        return any(g == current and not run.done() for run, g in self.abandoned.items())

    def _forget_abandoned(self, task: asyncio.Future[Any]) -> None:
        self.abandoned.pop(task, None)
        if not task.cancelled():
            task.exception()  # retrieved: the run was given up on, its outcome no longer matters

    async def leave_abandoned(self) -> None:
        """On stop: cancel the flow runs given up on, without waiting for them, and close the
        clients held."""
        for run in list(self.abandoned):
            run.cancel()
        await self.clients.close()


def is_orchestration_error(exc: BaseException) -> bool:
    """An error from talking to Prefect's API (unreachable, timed out, refused), not from the work."""
    if isinstance(exc, httpx.HTTPError | ConnectionError | TimeoutError):
        return True
    return type(exc).__module__.startswith("prefect.") and "database" not in str(exc).lower()


async def serve_deployments(worker_id: str) -> None:
    """Serve both flows as deployments (no schedule: the worker decides when to sweep), so a
    Prefect server lists them and an operator can start a run from its UI. Runs beside the
    loops (registering takes seconds on a busy server) and is cancelled on stop. The worker
    runs its loop outside the main thread (``lifeline worker``), where Prefect's Runner does not
    install a SIGTERM handler of its own."""
    from prefect.runner import Runner

    from flows.delivery import deliver_notifications
    from flows.sweep import escalation_sweep

    try:
        runner = Runner(name=f"lifeline-{worker_id}", pause_on_shutdown=False)
        for flow_ in (escalation_sweep, deliver_notifications):
            deployment = await flow_.ato_deployment(name=DEPLOYMENT_NAME)
            await cast(Awaitable[Any], runner.add_deployment(deployment))
    except Exception as exc:
        log.warning("cannot serve the deployments (%s); sweeping goes on", one_line(exc))
        return
    log.info("serving deployments escalation-sweep/%s, deliver-notifications/%s", *[DEPLOYMENT_NAME] * 2)
    try:
        await runner.start()
    except Exception as exc:
        log.warning("stopped serving the deployments (%s); sweeping goes on", one_line(exc))
