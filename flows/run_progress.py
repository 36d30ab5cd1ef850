"""Where a flow run the worker started stands: Prefect's part before the flow's body, the body (the
sweep's work), Prefect's part after it.

The worker gives up on a flow run whose Prefect parts take longer than its patience (a server too
busy to start or finish the run: the deadlines do not wait for it); the patience never bounds the
work itself: a sweep of a backlog of 10,000 due cases takes seconds, and giving up on it then would
start a second sweep beside it (flows/flow_runs.py; Prefect going away still gives a run up).
The worker sets a ``Progress`` in the context the flow run starts in; the flow's body marks it
with ``flow_body``. A run nobody watches (a deployment run started from Prefect's UI, a test
calling the flow) marks nothing. Deliveries' flow runs are not bounded at all (each attempt has its
own timeout), so their flow marks nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class Progress:
    """Set when the flow's body began, and when it ended (returned or raised)."""

    began: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)


_WATCHED: ContextVar[Progress | None] = ContextVar("lifeline-flow-run-progress", default=None)


@contextlib.contextmanager
def watching(progress: Progress) -> Iterator[None]:
    """Inside: a flow run started here (a task created here keeps the context) marks ``progress``."""
    token = _WATCHED.set(progress)
    try:
        yield
    finally:
        _WATCHED.reset(token)


@contextlib.contextmanager
def flow_body() -> Iterator[None]:
    """Wrap a flow's body: marks when it began and ended for the worker that started the run."""
    progress = _WATCHED.get()
    if progress is not None:
        progress.began.set()
    try:
        yield
    finally:
        if progress is not None:
            progress.ended.set()
