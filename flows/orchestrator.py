"""Is Prefect there? The worker finds out in the background, never on the path of a sweep.

Escalations must not wait on Prefect: importing it takes ~2 s, its temporary server ~10-17 s to
start, and a configured server may be down or go away. So the worker starts in ``degraded`` mode,
running the same sweep and delivery functions outside any flow run, while a background task
prepares Prefect (imports it; with no ``PREFECT_API_URL`` starts its temporary server) and then
probes the API's ``/health`` every second with a short timeout. When the API answers the mode turns
to ``prefect`` and sweeps are flow runs again; when it stops answering (or a flow run fails because
it cannot reach the API) the mode turns back to ``degraded``. Each change is one log line; the mode
is in the worker's heartbeat (``/healthz`` field ``orchestrator``, metric
``lifeline_workers{orchestrator=...}``).

With ``PREFECT_API_URL`` set the worker never starts a temporary server of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import os
import ssl
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

import httpx

from flows.wake_loop import StopSignal

log = logging.getLogger("lifeline.worker")

T = TypeVar("T")

#: Set once Prefect is imported and its API URL known (a process exiting may then talk to it).
PREFECT_READY = threading.Event()

#: How often the API is probed, and how long one probe may take.
PROBE_EVERY = timedelta(seconds=1)
PROBE_TIMEOUT = timedelta(seconds=1)
PROBES_TO_DEGRADE = 2


class Mode(StrEnum):
    PREFECT = "prefect"
    DEGRADED = "degraded"


#: Prepares Prefect (blocking; run in a daemon thread) and returns its API URL, None if there is none.
Prepare = Callable[[], str | None]
#: One probe of the API at the given URL: True when it answers healthy.
Probe = Callable[[str], Awaitable[bool]]


def prepare_prefect() -> str | None:
    """Import Prefect and Lifeline's flows, and return the API URL to use: ``PREFECT_API_URL``, or
    (only when it is unset) the URL of Prefect's temporary server, started here. Blocking."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    import flows.delivery  # noqa: F401  (imports Prefect, ~2 s; later imports are instant)
    import flows.sweep  # noqa: F401

    _import_lazy_parts()

    api = PREFECT_API_URL.value()
    if api:
        PREFECT_READY.set()
        return str(api)
    if not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    PREFECT_READY.set()
    return server.api_url


def _import_lazy_parts() -> None:
    """What Prefect imports lazily on its first flow and task run (FastAPI's encoder for a flow's
    parameters alone: 0.1-0.3 s of CPU), here rather than on the event loop in the first delivery."""
    import fastapi.encoders  # noqa: F401
    import prefect.flow_engine  # noqa: F401
    import prefect.task_engine  # noqa: F401


@functools.cache
def _probe_tls() -> ssl.SSLContext:
    """One TLS context for every probe: a client's default one loads the CA bundle each time (~25 ms
    of CPU on the event loop, every second of the worker's life)."""
    return httpx.create_ssl_context()


async def probe_health(api_url: str) -> bool:
    """GET ``<api>/health`` with a short timeout; any error or non-200 answer is False."""
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT.total_seconds(), verify=_probe_tls()) as client:
            response = await client.get(f"{api_url.rstrip('/')}/health")
    except (httpx.HTTPError, OSError):
        return False
    return response.status_code == 200


async def in_daemon_thread(function: Callable[[], T]) -> T:
    """Run a blocking ``function`` in a daemon thread (in a copy of this context) and await it.

    Unlike ``asyncio.to_thread`` the thread never delays the process's exit: a worker asked to stop
    while Prefect is still importing or its temporary server still starting exits at once."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def target() -> None:
        try:
            result = context.run(function)
        except BaseException as exc:  # handed to the awaiting task
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
                loop.call_soon_threadsafe(settle, future.set_exception, exc)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, future.set_result, result)

    threading.Thread(target=target, name="lifeline-prefect-probe", daemon=True).start()
    return await future


class Orchestrator:
    """The worker's view of Prefect: ``mode`` (starts degraded) and a background ``watch`` loop."""

    def __init__(
        self,
        prepare: Prepare = prepare_prefect,
        probe: Probe = probe_health,
        probe_every: timedelta = PROBE_EVERY,
    ) -> None:
        self.mode = Mode.DEGRADED
        #: How many times the mode turned to ``prefect`` (the worker sweeps once in a flow run on each).
        self.came_up = 0
        self.api_url: str | None = None
        self._prepare = prepare
        self._probe = probe
        self._probe_every = probe_every
        self._went_down = asyncio.Event()
        self._went_down.set()
        #: Set on each change of ``mode``; the worker's heartbeat waits on it, so the stored mode
        #: (/healthz, `lifeline workers`) follows a change at once, not a beat later.
        self.changed = asyncio.Event()
        self._logged: Mode | None = None

    @property
    def available(self) -> bool:
        return self.mode is Mode.PREFECT

    async def went_down(self) -> None:
        """Returns once the mode is degraded (at once if it is)."""
        await self._went_down.wait()

    def mark_unreachable(self, reason: str) -> None:
        """A flow run could not reach the API: degrade now rather than at the next probe."""
        self._set(Mode.DEGRADED, reason)

    async def watch(self, stop: StopSignal) -> None:
        """Prepare Prefect, then probe it until ``stop``; never raises."""
        self._set(Mode.DEGRADED, "Prefect is not ready yet")
        try:
            self.api_url = await in_daemon_thread(self._prepare)
        except Exception as exc:
            self._set(Mode.DEGRADED, f"Prefect could not be prepared: {type(exc).__name__}: {exc}")
            return
        if self.api_url is None:
            self._set(Mode.DEGRADED, "no PREFECT_API_URL and Prefect's temporary server is disabled")
            return
        failures = 0
        while not stop.is_set():
            healthy = await self._probe(self.api_url)
            failures = 0 if healthy else failures + 1
            # Two failed probes in a row: a server slow to answer once on a loaded machine is not down
            # (a flow run that cannot reach it degrades the worker at once: mark_unreachable).
            if healthy or failures >= PROBES_TO_DEGRADE or self.mode is Mode.DEGRADED:
                reason = f"Prefect API {self.api_url} is not answering"
                self._set(Mode.PREFECT if healthy else Mode.DEGRADED, reason)
            if await stop.sleep(self._probe_every.total_seconds()):
                return

    def _set(self, mode: Mode, reason: str) -> None:
        if mode is Mode.PREFECT and self.mode is not Mode.PREFECT:
            self.came_up += 1
        if mode is not self.mode:
            self.changed.set()
        self.mode = mode
        if mode is Mode.PREFECT:
            self._went_down.clear()
        else:
            self._went_down.set()
        if mode is self._logged:
            return
        self._logged = mode
        if mode is Mode.PREFECT:
            log.info("orchestrator: prefect (%s); sweeps and deliveries are flow runs", self.api_url)
        else:
            log.warning("orchestrator: degraded (%s); sweeping without Prefect until it answers", reason)


def prefect_api_configured() -> bool:
    """True when the operator named a Prefect server (PREFECT_API_URL in the environment)."""
    return bool(os.environ.get("PREFECT_API_URL"))
