"""Intake for a creator who cannot sign in anywhere: they describe the incident, Lifeline emails a
six-digit code, and the case opens only when the code comes back within 15 minutes (its clocks start
then), with ``creator.verified_contact = true``.

Abuse limits: at most MAX_PENDING_PER_HOUR pending requests an hour per email address and per client
address; a code is kept only as an HMAC under the instance secret and compared in constant time;
MAX_WRONG_CODES wrong codes burn the request. Services flush; the caller commits (also after a wrong
code: the count must stick).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from casework.cases import lifecycle
from casework.creator import links
from casework.creator.texts import localized
from casework.errors import CaseworkError
from casework.registry import policy_registry
from models.creator_tables import IntakeRequest
from models.tables import PolicyVersion

CODE_LIFETIME = timedelta(minutes=15)
MAX_PENDING_PER_HOUR = 5
MAX_WRONG_CODES = 5
#: The actor of a case opened by intake.
INTAKE_ACTOR = "creator"
EMAIL = re.compile(r"[^@\s<>,;]{1,64}@[^@\s<>,;]{1,255}\.[^@\s<>,;]+")
_CODE = re.compile(r"\d{6}")


class IntakeLimited(CaseworkError):
    """Too many pending requests this hour for this email or from this address."""


class IntakeInvalid(CaseworkError):
    """The form is incomplete or wrong; ``fields`` names each bad field."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(f"check these fields: {', '.join(fields)}")
        self.fields = fields


class Verification(StrEnum):
    OPENED = "opened"
    WRONG = "wrong"
    #: Unknown, expired, burned by wrong codes, or already used.
    GONE = "gone"


@dataclass(frozen=True)
class IntakeForm:
    incident_type: str
    platform: str
    handle: str
    email: str
    summary: str
    language: str


@dataclass(frozen=True)
class Started:
    request_id: str
    code: str
    expires_at: datetime


@dataclass(frozen=True)
class Verified:
    outcome: Verification
    case_id: str | None = None
    token: str | None = None
    tries_left: int = 0


def incident_types(session: Session, language: str) -> list[tuple[str, str]]:
    """(incident type, creator-facing title) of every registered policy's latest version."""
    latest = (
        select(PolicyVersion.policy_id, func.max(PolicyVersion.version))
        .group_by(col(PolicyVersion.policy_id))
        .order_by(col(PolicyVersion.policy_id))
    )
    found: dict[str, str] = {}
    for policy_id, version in session.exec(latest):
        policy, _ = policy_registry.get_policy(session, policy_id, version)
        title = _creator_title(policy.canonical_json, language) or policy.title
        found.setdefault(policy.incident_type, title)
    return sorted(found.items(), key=lambda item: item[1])


def _creator_title(document: str, language: str) -> str | None:
    try:
        parsed: Any = json.loads(document) if document else {}
    except ValueError:
        return None
    return localized(parsed.get("creator_title"), language) if isinstance(parsed, dict) else None


def check_form(session: Session, form: IntakeForm) -> None:
    """IntakeInvalid naming every bad field."""
    bad = []
    known = {kind for kind, _ in incident_types(session, form.language)}
    if form.incident_type not in known:
        bad.append("incident_type")
    if not 1 <= len(form.platform.strip()) <= 100:
        bad.append("platform")
    if not 1 <= len(form.handle.strip()) <= 200:
        bad.append("handle")
    if len(form.email) > 320 or EMAIL.fullmatch(form.email.strip()) is None:
        bad.append("email")
    if not 1 <= len(form.summary.strip()) <= 5000:
        bad.append("summary")
    if bad:
        raise IntakeInvalid(bad)


def _code_hash(session: Session, request_id: str, code: str, now: datetime) -> str:
    secret = links.instance_secret(session, now)
    return hmac.new(secret, f"intake:{request_id}:{code}".encode(), hashlib.sha256).hexdigest()


def start(session: Session, form: IntakeForm, address: str, now: datetime) -> Started:
    """Record a request and make its code (email it to ``form.email``; it is not stored).

    IntakeInvalid for a bad form; IntakeLimited past the hourly limits."""
    check_form(session, form)
    email = form.email.strip().lower()
    since = now - timedelta(hours=1)
    for column, value in ((IntakeRequest.email, email), (IntakeRequest.address, address)):
        pending = select(func.count()).where(
            column == value, IntakeRequest.status == "pending", col(IntakeRequest.created_at) > since
        )
        if session.exec(pending).one() >= MAX_PENDING_PER_HOUR:
            raise IntakeLimited("too many pending requests this hour")
    request_id = "in_" + secrets.token_urlsafe(24)
    code = f"{secrets.randbelow(1_000_000):06d}"
    request = {
        "incident_type": form.incident_type,
        "platform": form.platform.strip(),
        "handle": form.handle.strip(),
        "summary": form.summary.strip(),
        "language": form.language,
    }
    row = IntakeRequest(
        id=request_id,
        email=email,
        address=address[:100],
        code_hash=_code_hash(session, request_id, code, now),
        request=request,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(row)
    session.flush()
    return Started(request_id, code, row.expires_at)


def verify(session: Session, request_id: str, code: str, now: datetime) -> Verified:
    """Open the case if ``code`` is the request's; count a wrong one (the MAX_WRONG_CODES-th burns
    the request). The caller commits whatever the outcome."""
    row = session.get(IntakeRequest, request_id[:40], with_for_update=True)
    if row is None or row.status != "pending" or now >= row.expires_at:
        return Verified(Verification.GONE)
    given = code.strip() if _CODE.fullmatch(code.strip()) else "------"
    if not hmac.compare_digest(_code_hash(session, request_id, given, now), row.code_hash):
        row.wrong_codes += 1
        if row.wrong_codes >= MAX_WRONG_CODES:
            row.status = "burned"
        session.add(row)
        session.flush()
        left = MAX_WRONG_CODES - row.wrong_codes
        return Verified(Verification.WRONG if left > 0 else Verification.GONE, tries_left=left)
    case_id, token = _open(session, row, now)
    row.status, row.case_id = "verified", case_id
    session.add(row)
    session.flush()
    return Verified(Verification.OPENED, case_id, token)


def _open(session: Session, row: IntakeRequest, now: datetime) -> tuple[str, str]:
    request = row.request
    attributes = {
        "creator": {
            "handle": request["handle"],
            "platform": request["platform"],
            "contact_email": row.email,
            "verified_contact": True,
            "language": request["language"],
        },
        "summary": request["summary"],
        "intake": {"requested_at": row.created_at.isoformat(), "verified_at": now.isoformat()},
    }
    change = lifecycle.open_case(
        session, attributes=attributes, actor=INTAKE_ACTOR, now=now, incident_type=request["incident_type"]
    )
    return change.case.id, links.first_link(session, change.case.id, now)
