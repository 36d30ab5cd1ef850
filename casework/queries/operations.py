"""The read side of /healthz and /metrics: aggregates over the whole database, read at request or
scrape time so every API process reports the same numbers. Counts and ages only, never case content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, text
from sqlmodel import col, select

from casework.heartbeats import latest_heartbeat, orchestrator_modes
from models.db import session_scope
from models.kinds import NotificationStatus
from models.migrate import SchemaError, ensure_schema_current
from models.tables import Breach, Case, CaseEvent, Notification
from sla_engine.kinds import ACTIVE_STATUSES, EventKind


@dataclass(frozen=True)
class CaseTotals:
    """What /metrics reports of the cases: each a list of (labels..., count)."""

    open_by_stage_and_priority: list[tuple[str, str, int]]
    breaches_by_target: list[tuple[str, str, int]]
    escalations: int
    oldest_pending_deadline: datetime | None
    latest_heartbeat: datetime | None


def case_totals(engine: Engine) -> CaseTotals:
    """Open cases by (stage, priority), breaches by (target_type, target), escalations recorded,
    the earliest pending deadline and the freshest worker heartbeat, in one read transaction."""
    active = [str(s) for s in ACTIVE_STATUSES]
    with session_scope(engine, write=False) as session:
        open_cases = session.exec(
            select(Case.stage, Case.priority, func.count())
            .where(col(Case.status).in_(active))
            .group_by(col(Case.stage), col(Case.priority))
        )
        breaches = session.exec(
            select(Breach.target_type, Breach.target, func.count()).group_by(
                col(Breach.target_type), col(Breach.target)
            )
        )
        return CaseTotals(
            open_by_stage_and_priority=[(stage, priority, n) for stage, priority, n in open_cases],
            breaches_by_target=[(str(kind), target, n) for kind, target, n in breaches],
            escalations=session.exec(
                select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == EventKind.ESCALATED)
            ).one(),
            oldest_pending_deadline=session.exec(select(func.min(Case.next_deadline_at))).one(),
            latest_heartbeat=latest_heartbeat(session),
        )


def database_unreachable(engine: Engine) -> str | None:
    """Why the database cannot be reached (the driver error's type), or None when it answers."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "unreachable" here
        return f"database unreachable: {type(exc).__name__}"
    return None


def schema_not_current(engine: Engine) -> str | None:
    """Why the database's schema is not the code's (behind or ahead), or None when it is current."""
    try:
        ensure_schema_current(engine)
    except SchemaError as exc:
        return str(exc)
    return None


def freshest_heartbeat(engine: Engine) -> datetime | None:
    """The most recent beat of any worker (None: no worker ever ran against this database)."""
    with session_scope(engine, write=False) as session:
        return latest_heartbeat(session)


def worker_modes(engine: Engine, fresh_since: datetime) -> dict[str, int]:
    """How many workers that beat since ``fresh_since`` sweep in each orchestrator mode
    (``prefect``, ``degraded``)."""
    with session_scope(engine, write=False) as session:
        return orchestrator_modes(session, fresh_since)


@dataclass(frozen=True)
class OutboxTotals:
    """What /metrics reports of the notification outbox."""

    #: (channel, status, rows, attempts made in all)
    by_channel_and_status: list[tuple[str, str, int, int]]
    #: When the oldest notification not yet delivered (pending) was queued.
    oldest_pending_created_at: datetime | None


def outbox_totals(engine: Engine) -> OutboxTotals:
    """Notifications by channel and status with their attempts, and the oldest pending one."""
    with session_scope(engine, write=False) as session:
        rows = session.exec(
            select(
                Notification.channel, Notification.status, func.count(), func.sum(Notification.attempts)
            ).group_by(col(Notification.channel), col(Notification.status))
        )
        grouped = [(channel, str(status), n, int(attempts or 0)) for channel, status, n, attempts in rows]
        oldest = session.exec(
            select(func.min(Notification.created_at)).where(Notification.status == NotificationStatus.PENDING)
        ).one()
    return OutboxTotals(grouped, oldest)
