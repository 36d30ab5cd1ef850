"""Prefect's API clients, built once and lent to every flow run the worker starts.

A flow run that finds no client in its context builds two of its own: an async one for the run,
and a sync one only to read the server's default result storage. Each new client loads the CA
bundle into a new TLS context (``ssl.create_default_context``, 20-35 ms of CPU here, whether the
API is HTTPS or not): most of what a flow run with nothing to do costs this process
(bench/README.md, "2026-12-04 (late night)"). So the worker builds the pair once, and each flow
run it starts finds them where Prefect's own ``AsyncClientContext``/``SyncClientContext`` would
put them; a held client also keeps its connection to the server open between runs.

The pair is built again each time Prefect comes (back) up (``generation``: the orchestrator's
``came_up``); the old pair is closed then, which fails whatever a flow run given up on still
asks of it (flows/flow_runs.py: its outcome no longer matters). When a pair cannot be built,
nothing is lent and each flow run builds its own clients, as Prefect does by default.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from flows.wake_loop import one_line

if TYPE_CHECKING:
    from prefect.context import AsyncClientContext, SyncClientContext

log = logging.getLogger("lifeline.worker")


class PrefectClients:
    """The async and sync client of one generation of Prefect being up, lent to flow runs."""

    def __init__(self) -> None:
        self._pair: tuple[AsyncClientContext, SyncClientContext] | None = None
        self._generation: int | None = None

    @property
    def held(self) -> bool:
        """True while a pair is built and open."""
        return self._pair is not None

    async def ready(self, generation: int) -> None:
        """Have an open pair for ``generation`` (built here unless it is already), closing an older
        one. Call on the event loop the flow runs will run on: the async client is bound to it."""
        if self._pair is not None and self._generation == generation:
            return
        await self.close()
        self._generation = generation
        try:
            self._pair = await _open_pair()
        except Exception as exc:  # nothing lent: each flow run builds its own clients
            log.debug("cannot hold Prefect's clients (%s); each flow run builds its own", one_line(exc))

    @contextlib.contextmanager
    def lent(self) -> Iterator[None]:
        """Inside: Prefect's client contexts hold this pair (nothing when none is held), for the
        flow run awaited here or a task created here (a task keeps the context it was created in)."""
        if self._pair is None:
            yield
            return
        async_context, sync_context = self._pair
        async_token = type(async_context).__var__.set(async_context)
        sync_token = type(sync_context).__var__.set(sync_context)
        try:
            yield
        finally:
            type(sync_context).__var__.reset(sync_token)
            type(async_context).__var__.reset(async_token)

    async def close(self) -> None:
        """Close the pair held, if any (flow runs started later build their own until ``ready``)."""
        pair, self._pair = self._pair, None
        if pair is None:
            return
        async_context, sync_context = pair
        with contextlib.suppress(Exception):
            sync_context.client.__exit__(None, None, None)
        with contextlib.suppress(Exception):
            await async_context.client.__aexit__(None, None, None)


async def _open_pair() -> tuple[AsyncClientContext, SyncClientContext]:
    """Prefect's two client contexts with their clients started, not entered as contexts (they are
    set per flow run by ``PrefectClients.lent``); no request is made here."""
    from prefect.context import AsyncClientContext, SyncClientContext

    async_context = AsyncClientContext()
    await async_context.client.__aenter__()
    try:
        sync_context = SyncClientContext()
        sync_context.client.__enter__()
    except BaseException:
        await async_context.client.__aexit__(None, None, None)
        raise
    return async_context, sync_context
