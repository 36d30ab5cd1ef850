"""Idempotency-Key records for POST /v1/cases: a retried request gets the case the first one opened.

A record maps (the caller's API key, the Idempotency-Key header) to the request's fingerprint (the
SHA-256 of its canonical JSON body) and the case it opened. Keys are scoped per API key, as Stripe
does, so two clients choosing the same key never see each other's cases. Records are kept for
``RETENTION`` (24 hours) and purged after; a key reused after that opens a new case.

Like every service: flush, never commit. ``remember`` inside the transaction that opened the case,
so the record and the case are written together or not at all. Two concurrent first requests with
one key: the second one's insert hits the primary key and raises ``IdempotencyRace``; roll back and
call ``find`` again in a new transaction: it then answers with the winner's case.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from casework.errors import IdempotencyKeyReused, IdempotencyRace, InvalidIdempotencyKey
from models.tables import IdempotencyKey

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 200


def fingerprint(body: Any) -> str:
    """SHA-256 of the body's canonical JSON (key order and whitespace do not matter)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def scoped_key(owner_id: int, key: str) -> str:
    """The stored key: the API key's id and the client's Idempotency-Key."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters (a UUID is a good choice)"
        )
    return f"{owner_id}:{key}"


def find(session: Session, stored_key: str, request_hash: str, now: datetime) -> str | None:
    """The case id a previous identical request opened, or None if the key is new (or expired).

    Raises IdempotencyKeyReused when the key was used for another body."""
    record = session.get(IdempotencyKey, stored_key)
    if record is None:
        return None
    if record.created_at <= now - RETENTION:
        session.delete(record)
        session.flush()
        return None
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused(stored_key.split(":", 1)[1], record.case_id)
    return record.case_id


def remember(session: Session, stored_key: str, request_hash: str, case_id: str, now: datetime) -> None:
    """Record that ``stored_key`` opened ``case_id``; purge records past the retention window."""
    purge_expired(session, now)
    session.add(IdempotencyKey(key=stored_key, request_hash=request_hash, case_id=case_id, created_at=now))
    try:
        session.flush()
    except IntegrityError as exc:
        raise IdempotencyRace(str(exc.orig)) from exc


def purge_expired(session: Session, now: datetime) -> int:
    """Delete the records older than the retention window; returns how many."""
    result = session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.created_at) <= now - RETENTION))
    return int(getattr(result, "rowcount", 0) or 0)
