"""Who opened cases: lets ``lifeline demo`` see that its cases are already there."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from models.tables import CaseEvent
from sla_engine.kinds import EventKind


def cases_opened_by(session: Session, actor: str) -> int:
    """How many cases ``actor`` opened (their ``opened`` events)."""
    query = (
        select(func.count())
        .select_from(CaseEvent)
        .where(CaseEvent.kind == EventKind.OPENED, CaseEvent.actor == actor)
    )
    return int(session.exec(query).one())
