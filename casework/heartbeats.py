"""Worker heartbeats: each escalation worker upserts its row, so /healthz can report its age."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from models.tables import WorkerHeartbeat


def record_heartbeat(
    session: Session, worker_id: str, now: datetime, orchestrator: str | None = None
) -> None:
    """Set ``worker_id``'s last beat to ``now`` (insert on its first beat) and its orchestrator
    mode (``prefect`` or ``degraded``); flushes."""
    row = session.get(WorkerHeartbeat, worker_id)
    if row is None:
        row = WorkerHeartbeat(worker_id=worker_id, beat_at=now)
    else:
        row.beat_at = max(row.beat_at, now)
    if orchestrator is not None:
        row.orchestrator = orchestrator
    session.add(row)
    session.flush()


def latest_heartbeat(session: Session) -> datetime | None:
    """The most recent beat of any worker (None: no worker ever ran against this database)."""
    value: datetime | None = session.exec(select(func.max(WorkerHeartbeat.beat_at))).one()
    return value


def orchestrator_modes(session: Session, fresh_since: datetime) -> dict[str, int]:
    """How many workers that beat since ``fresh_since`` run in each orchestrator mode."""
    query = (
        select(WorkerHeartbeat.orchestrator, func.count())
        .where(WorkerHeartbeat.beat_at >= fresh_since)
        .group_by(WorkerHeartbeat.orchestrator)
    )
    return {str(mode or "unknown"): count for mode, count in session.exec(query)}


def orchestrator_status(modes: dict[str, int]) -> str | None:
    """``degraded`` when any fresh worker sweeps without Prefect, ``prefect`` when all sweep in
    flow runs, None when no worker reports a mode."""
    if modes.get("degraded"):
        return "degraded"
    return "prefect" if modes.get("prefect") else None
