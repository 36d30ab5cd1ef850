"""The creator's reply through their status page: the action ``creator_replied`` done by actor
``creator`` with their words, which resumes a case waiting on them; at most REPLIES_PER_HOUR a case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from casework.cases import lifecycle
from casework.creator import links
from casework.creator.status_view import CREATOR_ACTOR
from casework.errors import TooManyReplies
from casework.history.case_changes import CaseChange
from models.tables import CaseEvent
from sla_engine.kinds import ActionName, EventKind

REPLIES_PER_HOUR = 20
_WINDOW = timedelta(hours=1)


def reply(session: Session, token: str, message: str, now: datetime) -> CaseChange:
    """Record the creator's ``message`` on the case of ``token``.

    StatusLinkNotFound for a dead link; TooManyReplies past the hourly limit; InvalidAction for an empty
    or too long message; ForbiddenTransition once the case is closed."""
    case = links.resolve(session, token, now)
    lifecycle.get_case_for_update(session, case.id)  # serialise replies to one case
    since = now - _WINDOW
    query = select(func.count(), func.min(CaseEvent.at)).where(
        CaseEvent.case_id == case.id,
        # Each creator reply writes one of these first (a marker, or the status change resuming it).
        col(CaseEvent.kind).in_((EventKind.CREATOR_REPLIED, EventKind.STATUS_CHANGED)),
        CaseEvent.actor == CREATOR_ACTOR,
        col(CaseEvent.at) > since,
    )
    count, oldest = session.exec(query).one()
    if count >= REPLIES_PER_HOUR:
        wait = (oldest + _WINDOW - now) if oldest is not None else _WINDOW
        raise TooManyReplies(REPLIES_PER_HOUR, max(int(wait.total_seconds()) + 1, 1))
    return lifecycle.apply_action(
        session, case.id, ActionName.CREATOR_REPLIED, {"message": message}, CREATOR_ACTOR, now
    )
