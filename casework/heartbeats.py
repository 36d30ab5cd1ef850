"""Worker heartbeats: each escalation worker upserts its row, so /healthz can report its age."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from models.tables import WorkerHeartbeat


def record_heartbeat(session: Session, worker_id: str, now: datetime) -> None:
    """Set ``worker_id``'s last beat to ``now`` (insert on its first beat); flushes."""
    row = session.get(WorkerHeartbeat, worker_id)
    if row is None:
        row = WorkerHeartbeat(worker_id=worker_id, beat_at=now)
    else:
        row.beat_at = max(row.beat_at, now)
    session.add(row)
    session.flush()


def latest_heartbeat(session: Session) -> datetime | None:
    """The most recent beat of any worker (None: no worker ever ran against this database)."""
    value: datetime | None = session.exec(select(func.max(WorkerHeartbeat.beat_at))).one()
    return value
