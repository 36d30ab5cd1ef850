"""The FastAPI application factory.

``create_app(engine, clock=...)`` builds an app on a given engine (tests build one per database)
with an injectable clock: every instant a route uses comes from ``app.state.clock``, so tests use
explicit datetimes. Without an engine the app connects to ``LIFELINE_DATABASE_URL``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from api import docs, fast_solve, openapi, param_cache, problems
from api.headers import ResponseHeaders
from api.metrics import ApiMetrics, RequestMetricsMiddleware
from api.middleware import BodyLimitMiddleware, CatchAllMiddleware
from api.rate_limit import FailedAuthLimiter
from api.routes import (
    audit,
    breaches,
    bulk_actions,
    case_links,
    cases,
    creator_links,
    creators,
    directory,
    health,
    notifications,
    policies,
    policy_lifecycle,
    reports,
)
from casework.registry import policy_registry
from casework.settings import get_settings
from models.db import make_engine, session_scope

MAX_BODY_BYTES = 1024 * 1024
log = logging.getLogger("lifeline.api")

DESCRIPTION = """
Lifeline's HTTP API: open and work creator-support cases, watch their SLA clocks, read their
tamper-evident history, and preview policies.

Authenticate with `Authorization: Bearer <key>` (create keys with `lifeline keys create`). Errors are
`application/problem+json` (RFC 9457). See docs/api.md for a walk-through.
"""

TAGS = [
    {"name": "cases", "description": "Open, list, read and act on cases (agents)."},
    {"name": "breaches", "description": "Missed deadlines (auditors)."},
    {"name": "reports", "description": "SLA compliance by incident type, priority, queue, policy version."},
    {"name": "audit", "description": "History export and chain-and-replay verification (auditors)."},
    {"name": "policies", "description": "Registered policies, validation and simulation."},
    {"name": "operations", "description": "Health and metrics."},
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _preload_policies(engine: Engine) -> list[str]:
    """``policy_registry.preload``'s problems; never raises: an API on a database it cannot read yet
    (not migrated: /healthz says so) still starts, and parses versions on first use."""
    try:
        with session_scope(engine, write=False) as session:
            return policy_registry.preload(session)
    except Exception as error:  # noqa: BLE001 - see the docstring
        return [f"policies not preloaded: {error}"]


def create_app(engine: Engine | None = None, *, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    param_cache.install()
    fast_solve.install()
    owns_engine = engine is None
    bound = engine if engine is not None else make_engine(get_settings().database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Every registered policy version parsed before the first request: a read on SQLite runs on
        # the event loop (api.reads), where a first parse (~0.2 s with the holiday tables) would
        # stall every request in flight.
        for problem in await run_in_threadpool(_preload_policies, bound):
            log.warning("%s", problem)
        yield
        if owns_engine:
            bound.dispose()

    app = FastAPI(
        title="Lifeline",
        version="1",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # api.docs serves /docs and /redoc from local files
        redoc_url=None,
    )
    app.state.engine = bound
    app.state.clock = clock
    app.state.metrics = ApiMetrics(bound, lambda: app.state.clock())
    app.state.auth_limiter = FailedAuthLimiter()
    problems.install(app)
    docs.install(app)
    openapi.install(app)
    for module in (
        bulk_actions,
        cases,
        case_links,
        creator_links,
        creators,
        directory,
        breaches,
        reports,
        audit,
        policies,
        policy_lifecycle,
        health,
        notifications,
    ):
        app.include_router(module.router)
    app.add_middleware(BodyLimitMiddleware, limit=MAX_BODY_BYTES)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(ResponseHeaders)
    return app
