"""The console's ended sessions.

A console session is a signed cookie (console/auth.py), so nothing server-side has to exist for it
to be valid; signing out must nonetheless end it for good, not only delete the cookie from the one
browser that signed out (a copied cookie would stay valid until it expires). Each sign-out records
the session's nonce here until the session would have expired anyway; every process refuses a
recorded nonce (within the key cache's window when another process signed out).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class ConsoleSessionEnd(SQLModel, table=True):
    """A signed-out console session: its cookie's nonce, refused until ``expires_at``."""

    __tablename__ = "console_session_ends"

    nonce: str = Field(primary_key=True, max_length=64)
    key_id: int = Field(index=True)
    ended_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
