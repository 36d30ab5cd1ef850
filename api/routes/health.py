"""Operations: /healthz (is this process able to serve?) and /metrics (Prometheus text).

Both are unauthenticated, as load balancers and Prometheus scrapers expect; they reveal counts and
ages, never case content.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, func, text
from sqlmodel import select

from api.auth import EngineDep, NowDep
from api.problems import PROBLEM_JSON
from casework.heartbeats import orchestrator_modes, orchestrator_status
from models.db import session_scope
from models.schema import SchemaError, ensure_schema_current
from models.tables import WorkerHeartbeat

router = APIRouter(tags=["operations"])

#: A worker heartbeat older than this is reported stale (the worker beats every few seconds).
HEARTBEAT_STALE_AFTER = timedelta(seconds=30)


def _check_database(engine: Engine) -> dict[str, Any]:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "unreachable" here
        return {"status": "fail", "detail": f"database unreachable: {type(exc).__name__}"}
    return {"status": "pass"}


def _check_schema(engine: Engine) -> dict[str, Any]:
    try:
        ensure_schema_current(engine)
    except SchemaError as exc:
        return {"status": "fail", "detail": str(exc)}
    return {"status": "pass"}


def _check_worker(engine: Engine, now: datetime) -> dict[str, Any]:
    with session_scope(engine, write=False) as session:
        beat = session.exec(select(func.max(WorkerHeartbeat.beat_at))).one()
        modes = orchestrator_modes(session, now - HEARTBEAT_STALE_AFTER)
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
        "orchestrator": orchestrator_status(modes),
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
    checks: dict[str, Any] = {"database": _check_database(engine)}
    if checks["database"]["status"] == "pass":
        checks["schema"] = _check_schema(engine)
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


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Open cases by stage and priority, breaches by clock or stage, escalations, sweep lag, worker
    heartbeat age, and request counts, in the Prometheus text format."""
    data = generate_latest(request.app.state.metrics.registry)
    return Response(content=data, media_type=CONTENT_TYPE_LATEST)
