"""The emails Lifeline writes: to a creator (their status link and what changed, in their language,
plain text and HTML) and to staff on an email channel (what the webhook would have said).

Composing reads the case and may give it a status link if it has none (a case opened before links
existed): call it in a write transaction. Nothing here sends: flows/email_delivery.py does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session, select

from casework.creator import links
from casework.creator.status_view import creator_view
from casework.creator.texts import catalogue, creator_language
from casework.errors import CaseNotFound
from casework.history.creator_messages import contact_email
from models.tables import Case, CaseEvent

_ENV = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "email_templates")),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)


class NoRecipient(ValueError):
    """The email has nowhere to go (the case has no ``creator.contact_email``): no retry helps."""


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None
    language: str


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def creator_email(session: Session, case_id: str, trigger: str, event_seq: int, now: datetime) -> Email:
    """The creator's email about ``trigger`` (opened, replied, waiting, resolved) of event
    ``event_seq``; NoRecipient without a contact email."""
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    address = contact_email(case.attributes)
    if address is None:
        raise NoRecipient(f"case {case_id} has no attributes.creator.contact_email")
    token = links.current_token(session, case_id, now) or links.issue_link(session, case_id, now)
    language = creator_language(case.attributes)
    texts = catalogue(language)
    view = creator_view(session, case, language, now)
    subject = texts[f"email_subject_{trigger}"].format(title=view.title)
    context = {
        "t": texts,
        "lang": language,
        "trigger": trigger,
        "view": view,
        "link": links.status_url(token),
        "quote": _quote(session, case_id, event_seq, trigger),
        "subject": subject,
        "utc_text": utc_text,
    }
    text = _ENV.get_template("creator.txt").render(context)
    html = _ENV.get_template("creator.html").render(context)
    return Email((address,), subject, text, html, language)


def _quote(session: Session, case_id: str, seq: int, trigger: str) -> str | None:
    """The agent's words the email is about: a reply's message, a request's reason."""
    if trigger not in ("replied", "waiting"):
        return None
    query = select(CaseEvent.data).where(CaseEvent.case_id == case_id, CaseEvent.seq == seq)
    data = session.exec(query).first()
    if not isinstance(data, dict):
        return None
    value = data.get("message" if trigger == "replied" else "reason")
    return value if isinstance(value, str) else None


def staff_email(to: str, payload: dict[str, Any]) -> Email:
    """A staff notification by email: the webhook's facts as readable text (English)."""
    case = payload.get("case") or {}
    reason = payload.get("reason") or payload.get("event", {}).get("reason") or "notification"
    subject = f"[Lifeline] {payload.get('case_id')}: {reason}"
    lines = [
        f"Case {payload.get('case_id')} ({payload.get('incident_type')}, policy {payload.get('policy_id')} "
        f"v{payload.get('policy_version')})",
        f"Why: {reason}",
        f"At: {payload.get('at')}",
        f"Status: {case.get('status')}, stage {case.get('stage')}, queue {case.get('queue')}, "
        f"priority {case.get('priority')}",
        f"Next deadline: {case.get('next_deadline_at')}",
        "",
        json.dumps(payload, indent=2, sort_keys=True),
    ]
    addresses = tuple(a.strip() for a in to.split(",") if a.strip())
    return Email(addresses, subject, "\n".join(lines) + "\n", None, "en")


def code_email(to: str, code: str, language: str) -> Email:
    """The intake's verification code, in the creator's language (plain text only)."""
    texts = catalogue(language)
    body = texts["email_code_text"].format(code=code) + "\n"
    return Email((to,), texts["email_subject_code"].format(code=code), body, None, language)
