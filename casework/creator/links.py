"""Creator status links: one unguessable link per case, its check, rotation and expiry.

A token is 256 bits: HMAC-SHA256 of the case id and a random 128-bit ``nonce`` under the instance
secret (``LIFELINE_LINK_SECRET``, else a random secret made once and kept in the database). Only the
token's SHA-256 and the nonce are stored, so the link is found by hash (a wrong token costs the same
whatever its prefix) and the worker can re-derive it for an email without the database holding it.
Set LIFELINE_LINK_SECRET in production so a copy of the database alone cannot derive links.

Rotating replaces the nonce and hash: the old link dies in the same transaction. A link stops working
30 days after its case is closed. Services flush; the caller commits.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import weakref
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import Pool
from sqlmodel import Session, select

from casework.cases.lifecycle import get_case_for_update
from casework.errors import CaseNotFound, StatusLinkNotFound
from casework.history.case_changes import write_case_change
from casework.links.listing import survivor_of
from casework.settings import get_settings
from models.creator_tables import CreatorLink, InstanceSecret
from models.tables import Case
from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind, Status

#: How long a link keeps working after its case is closed.
LIFETIME_AFTER_CLOSE = timedelta(days=30)
#: A token's shape: 32 bytes in URL-safe base64 without padding.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_SECRET_NAME = "creator-links"


def instance_secret(session: Session, now: datetime) -> bytes:
    """The key links derive from: LIFELINE_LINK_SECRET, else this database's own random secret
    (made on first use; a concurrent first use keeps whichever was stored first).

    The stored secret never changes once committed, so it is remembered per engine (its pool:
    every ``execution_options`` copy of an engine shares it, a new engine has its own) after a
    session reads it; its ORM read was ~7% of POST /v1/cases. A secret this session inserted is
    not remembered until another session reads it back committed (a rollback would discard it)."""
    configured = get_settings().link_secret
    if configured:
        return configured.encode()
    pool = session.get_bind().engine.pool
    known = _stored_secrets.get(pool)
    if known is not None:
        return known
    stored = session.get(InstanceSecret, _SECRET_NAME)
    if stored is None:
        session.info[_INSERTED_SECRET] = True
        try:
            with session.begin_nested():
                session.add(InstanceSecret(name=_SECRET_NAME, value=secrets.token_hex(32), created_at=now))
        except IntegrityError:
            pass
        stored = session.get(InstanceSecret, _SECRET_NAME)
        assert stored is not None
    value = stored.value.encode()
    if not session.info.get(_INSERTED_SECRET, False):
        _stored_secrets[pool] = value
    return value


#: The stored secret by engine pool (see ``instance_secret``); weak, so a disposed engine's goes.
_stored_secrets: weakref.WeakKeyDictionary[Pool, bytes] = weakref.WeakKeyDictionary()
_INSERTED_SECRET = "lifeline_inserted_instance_secret"


def derive_token(secret: bytes, case_id: str, nonce: str) -> str:
    digest = hmac.new(secret, f"{case_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def status_url(token: str) -> str:
    """The absolute status page URL of ``token`` (base: LIFELINE_PUBLIC_URL)."""
    return f"{get_settings().public_url.rstrip('/')}/status/{token}"


def issue_link(session: Session, case_id: str, now: datetime) -> str:
    """Give the case a new link (replacing any previous one) and return its token; tell it to the
    caller once: it is not stored."""
    if session.get(Case, case_id) is None:
        raise CaseNotFound(case_id)
    nonce = secrets.token_hex(16)
    token = derive_token(instance_secret(session, now), case_id, nonce)
    row = session.get(CreatorLink, case_id)
    if row is None:
        row = CreatorLink(case_id=case_id, token_hash=hash_token(token), nonce=nonce, issued_at=now)
    else:
        row.token_hash, row.nonce, row.issued_at = hash_token(token), nonce, now
        row.rotations += 1
    session.add(row)
    session.flush()
    return token


def first_link(session: Session, case_id: str, now: datetime) -> str:
    """``issue_link`` for a case opened in this transaction (it exists and has no link yet): one
    INSERT on the session's connection, without reading the case and its link back first and
    without the ORM's flush (~a tenth of POST /v1/cases under the profiler)."""
    nonce = secrets.token_hex(16)
    token = derive_token(instance_secret(session, now), case_id, nonce)
    values = {"case_id": case_id, "token_hash": hash_token(token), "nonce": nonce, "issued_at": now}
    session.connection().execute(_INSERT_LINK, {**values, "rotations": 0})
    return token


_INSERT_LINK = insert(CreatorLink)


def rotate_link(session: Session, case_id: str, actor: str, now: datetime) -> str:
    """Replace the case's link (the old one dies when the caller commits) and record
    ``creator_link_rotated`` by ``actor`` in its history (without the token); returns the new token."""
    case = get_case_for_update(session, case_id)
    token = issue_link(session, case_id, now)
    rotations = session.get(CreatorLink, case_id)
    data = {"rotations": rotations.rotations if rotations is not None else 0}
    write_case_change(
        session, case, None, [EngineEvent(EventKind.CREATOR_LINK_ROTATED, now, actor, data)], now
    )
    return token


def current_token(session: Session, case_id: str, now: datetime) -> str | None:
    """The case's live token, re-derived (for the creator's emails); None if it has no link."""
    row = session.get(CreatorLink, case_id)
    if row is None:
        return None
    return derive_token(instance_secret(session, now), case_id, row.nonce)


def resolve(session: Session, token: str, now: datetime) -> Case:
    """The case of a live link (for a case merged into another, the survivor); StatusLinkNotFound
    for a malformed, unknown, rotated or expired one."""
    if _TOKEN.fullmatch(token) is None:
        raise StatusLinkNotFound()
    query = select(CreatorLink.case_id).where(CreatorLink.token_hash == hash_token(token))
    case_id = session.exec(query).first()
    case = session.get(Case, case_id) if case_id is not None else None
    if case is not None:
        case = survivor_of(session, case)  # a merged case's link leads to its survivor
    if case is None or expired(case, now):
        raise StatusLinkNotFound()
    return case


def expired(case: Case, now: datetime) -> bool:
    """True once the case has been closed for LIFETIME_AFTER_CLOSE."""
    if case.status is not Status.CLOSED:
        return False
    closed_at = case.state.get("closed_at")
    closed = datetime.fromisoformat(closed_at) if isinstance(closed_at, str) else case.updated_at
    return now >= closed + LIFETIME_AFTER_CLOSE


def form_token(session: Session, token: str, now: datetime) -> str:
    """The CSRF token of the link's reply form: tied to the link, so it dies with it."""
    secret = instance_secret(session, now)
    return hmac.new(secret, b"reply-form:" + hash_token(token).encode(), hashlib.sha256).hexdigest()


def form_token_ok(session: Session, token: str, given: str, now: datetime) -> bool:
    return hmac.compare_digest(form_token(session, token, now).encode(), given.encode())
