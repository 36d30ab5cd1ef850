"""Where a read-only route's blocking work runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from models.db import is_sqlite

P = ParamSpec("P")
T = TypeVar("T")


async def short_read(engine: Engine, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an async route's blocking ``work`` (a read of a few rows): inline on SQLite, in the
    thread pool otherwise.

    On SQLite (WAL: a reader never waits for the writer) an indexed read of a local file takes tens
    of microseconds, less than the hop to the thread pool and back (a future, two thread wake-ups,
    the GIL changing hands), which a sync route pays on every request; on PostgreSQL a query is a
    network round trip, which must not stall the event loop."""
    if is_sqlite(engine):
        return work(*args, **kwargs)
    return await run_in_threadpool(work, *args, **kwargs)
