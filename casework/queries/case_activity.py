"""Who changed a case last, and when: what the console shows when a form was stale ("changed by X
at T") and what its pages poll to notice a change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.tables import CaseEvent


@dataclass(frozen=True)
class LastChange:
    actor: str
    at: datetime


def last_change(session: Session, case_id: str) -> LastChange | None:
    """The actor and ``recorded_at`` of the case's latest event; None for a case without events."""
    query = (
        select(CaseEvent.actor, CaseEvent.recorded_at)
        .where(CaseEvent.case_id == case_id)
        .order_by(col(CaseEvent.seq).desc())
        .limit(1)
    )
    row = session.exec(query).first()
    return None if row is None else LastChange(row[0], row[1])
