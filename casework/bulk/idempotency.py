"""Idempotency-Key records of bulk actions: a retried request with the same key and body gets the
first answer again instead of acting on the cases twice; the same key with another body is refused.
Keys are scoped by API key and kept for ``RETENTION``, as for POST /v1/cases
(casework.cases.idempotency, whose fingerprint and scoping they share). Flush, never commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from casework.cases.idempotency import RETENTION
from casework.errors import BulkKeyReused, IdempotencyRace
from models.tables import BulkRequest


def find(session: Session, stored_key: str, request_hash: str, now: datetime) -> dict[str, Any] | None:
    """The answer a previous identical request got; None for a new (or expired) key."""
    record = session.get(BulkRequest, stored_key)
    if record is None or record.created_at <= now - RETENTION:
        return None
    if record.request_hash != request_hash:
        raise BulkKeyReused(stored_key.split(":", 1)[1])
    return record.response


def remember(
    session: Session, stored_key: str, request_hash: str, response: dict[str, Any], now: datetime
) -> None:
    """Record the answer under the key (replacing an expired record); IdempotencyRace if a
    concurrent request with the same key recorded first."""
    session.execute(delete(BulkRequest).where(col(BulkRequest.created_at) <= now - RETENTION))
    session.add(BulkRequest(key=stored_key, request_hash=request_hash, created_at=now, response=response))
    try:
        session.flush()
    except IntegrityError as exc:
        raise IdempotencyRace(str(exc.orig)) from exc
