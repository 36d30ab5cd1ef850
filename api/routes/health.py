"""Operations: /healthz (is this process able to serve?) and /metrics (Prometheus text).

Both are unauthenticated, as load balancers and Prometheus scrapers expect (``/metrics`` needs a
bearer token when ``LIFELINE_METRICS_TOKEN`` is set); they reveal counts and ages, never case
content.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine

from api.checked_input import CheckedRoute
from api.deps import EngineDep, NowDep
from api.problems import PROBLEM_JSON, Problem
from casework.heartbeats import orchestrator_status
from casework.queries import operations
from casework.settings import get_settings

router = APIRouter(tags=["operations"], route_class=CheckedRoute)

#: A worker heartbeat older than this is reported stale (the worker beats every few seconds).
HEARTBEAT_STALE_AFTER = timedelta(seconds=30)


def _check(failure: str | None) -> dict[str, Any]:
    return {"status": "pass"} if failure is None else {"status": "fail", "detail": failure}


def _check_worker(engine: Engine, now: datetime) -> dict[str, Any]:
    beat = operations.freshest_heartbeat(engine)
    if beat is None:
        return {
            "status": "warn",
            "detail": "no escalation worker has reported yet",
            "heartbeat_age_seconds": None,
            "orchestrator": None,
        }
    age = max((now - beat).total_seconds(), 0.0)
    stale = now - beat > HEARTBEAT_STALE_AFTER
    return {
        "status": "warn" if stale else "pass",
        "heartbeat_age_seconds": round(age, 3),
        "last_heartbeat_at": beat.isoformat(),
        "orchestrator": orchestrator_status(operations.worker_modes(engine, now - HEARTBEAT_STALE_AFTER)),
        **({"detail": "the freshest worker heartbeat is stale: is a worker running?"} if stale else {}),
    }


@router.get(
    "/healthz",
    summary="Health: database reachable, schema current, worker heartbeat age",
    responses={503: {"description": "The database is unreachable or its schema is not current"}},
)
def healthz(engine: EngineDep, now: NowDep) -> Response:
    """200 when this process can serve (a missing or stale worker is a warning, since workers may
    run elsewhere); 503 problem+json when the database is unreachable or its schema is not current.

    ``orchestrator`` is ``prefect`` when every live worker sweeps in Prefect flow runs, ``degraded``
    when any sweeps without Prefect (its server unreachable), null when no live worker reported."""
    checks: dict[str, Any] = {"database": _check(operations.database_unreachable(engine))}
    if checks["database"]["status"] == "pass":
        checks["schema"] = _check(operations.schema_not_current(engine))
    if all(c["status"] == "pass" for c in checks.values()):
        checks["worker"] = _check_worker(engine, now)
        status = "warn" if checks["worker"]["status"] != "pass" else "pass"
        orchestrator = checks["worker"]["orchestrator"]
        return JSONResponse({"status": status, "orchestrator": orchestrator, "checks": checks})
    failed = [name for name, c in checks.items() if c["status"] == "fail"]
    body = {
        "type": "/problems/unhealthy",
        "title": "Service unhealthy",
        "status": 503,
        "detail": "; ".join(checks[name]["detail"] for name in failed),
        "checks": checks,
    }
    return JSONResponse(body, status_code=503, media_type=PROBLEM_JSON)


def _check_metrics_token(request: Request) -> None:
    token = get_settings().metrics_token
    if not token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Problem(
            401,
            "unauthorized",
            "Authentication required",
            "/metrics needs 'Authorization: Bearer <LIFELINE_METRICS_TOKEN>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={401: {"description": "LIFELINE_METRICS_TOKEN is set and the request does not carry it"}},
)
def metrics(request: Request) -> Response:
    """Open cases by stage and priority, breaches by clock or stage, escalations, sweep lag, worker
    heartbeat age, and request counts, in the Prometheus text format. When ``LIFELINE_METRICS_TOKEN``
    is set, send it as ``Authorization: Bearer <token>``."""
    _check_metrics_token(request)
    data = generate_latest(request.app.state.metrics.registry)
    return Response(content=data, media_type=CONTENT_TYPE_LATEST)
