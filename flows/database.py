"""Which database the flows use, and one engine per URL per process.

Flow parameters are shown in the Prefect UI, so a database URL (which may hold a password) is never
passed as one unless a caller does so explicitly (tests): the worker calls ``use_database(url)`` once
and the flows, called with ``database_url=None``, find it here; a flow run started from the Prefect
UI in a fresh process falls back to ``LIFELINE_DATABASE_URL``.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from casework.settings import get_settings
from models.db import make_engine

_engines: dict[str, Engine] = {}
_current: list[str] = []
_lock = threading.Lock()


def use_database(url: str) -> None:
    """Make ``url`` the database of flows called without one (the worker's, in this process)."""
    with _lock:
        _current[:] = [url]


def database_url(explicit: str | None = None) -> str:
    """``explicit``, else the URL given to ``use_database``, else LIFELINE_DATABASE_URL."""
    if explicit:
        return explicit
    with _lock:
        if _current:
            return _current[0]
    return get_settings().database_url


def engine_for(url: str | None = None) -> Engine:
    """The process's engine for ``database_url(url)`` (created once, shared by threads)."""
    resolved = database_url(url)
    with _lock:
        engine = _engines.get(resolved)
        if engine is None:
            engine = _engines[resolved] = make_engine(resolved)
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (worker shutdown, tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
