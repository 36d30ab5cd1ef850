"""Ending console sessions on the server: sign-out records the session's nonce, and a recorded
nonce is refused for the rest of the session's life (models/session_tables.py says why).

Services flush; the console's route owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col

from models.session_tables import ConsoleSessionEnd


def end_console_session(
    session: Session, nonce: str, key_id: int, now: datetime, expires_at: datetime
) -> None:
    """Record that the session ``nonce`` of key ``key_id`` signed out at ``now``; it would have
    expired at ``expires_at``, after which its row is of no use and is dropped (here, by a later
    sign-out). Ending a session twice is not an error."""
    session.execute(delete(ConsoleSessionEnd).where(col(ConsoleSessionEnd.expires_at) < now))
    if session.get(ConsoleSessionEnd, nonce) is None:
        session.add(ConsoleSessionEnd(nonce=nonce, key_id=key_id, ended_at=now, expires_at=expires_at))
    session.flush()


def console_session_ended(session: Session, nonce: str) -> bool:
    """Whether the session ``nonce`` signed out."""
    return session.get(ConsoleSessionEnd, nonce) is not None
