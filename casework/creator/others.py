"""One creator, several cases (say, accounts taken over on two platforms): from any of their links
the creator sees their other cases that are not closed, each with its own status link.

The same creator is the same ``creator.id``, else the same ``creator.contact_email``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from casework.creator import links
from casework.creator.status_view import creator_view
from models.tables import Case
from sla_engine.kinds import Status

MAX_OTHERS = 20


@dataclass(frozen=True)
class OtherCase:
    title: str
    status_text: str
    path: str


def _identity(case: Case) -> tuple[str, str] | None:
    creator: Any = case.attributes.get("creator")
    if not isinstance(creator, dict):
        return None
    for key in ("id", "contact_email"):
        value = creator.get(key)
        if isinstance(value, str) and value:
            return key, value
    return None


def other_open_cases(session: Session, case: Case, language: str, now: datetime) -> list[OtherCase]:
    """The creator's other cases that are not closed or merged (and have a link), newest first."""
    identity = _identity(case)
    if identity is None:
        return []
    key, value = identity
    field = Case.attributes["creator"][key].as_string()
    query = (
        select(Case)
        .where(field == value, Case.id != case.id, col(Case.status).not_in([Status.CLOSED, Status.MERGED]))
        .order_by(col(Case.opened_at).desc())
        .limit(MAX_OTHERS)
    )
    found = []
    for other in session.exec(query):
        token = links.current_token(session, other.id, now)
        if token is None:
            continue
        view = creator_view(session, other, language, now)
        found.append(OtherCase(view.title, view.status_text, f"/status/{token}?lang={language}"))
    return found
