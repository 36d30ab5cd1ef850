"""The creator channel's tables: status links, the instance secret they derive from, intake requests.

A creator link's token is never stored: ``creator_links`` holds its SHA-256 (looked up by hash, so a
check takes the same time however much of a wrong token matched) and the random ``nonce`` it is
derived from with the instance secret (casework.creator.links), so the worker can put the link in an
email without the database holding it. Rotating a link replaces both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class CreatorLink(SQLModel, table=True):
    """The one live status link of a case (rotating it replaces the row's hash and nonce)."""

    __tablename__ = "creator_links"

    case_id: str = Field(primary_key=True, foreign_key="cases.id", max_length=40)
    token_hash: str = Field(max_length=64, unique=True)
    nonce: str = Field(max_length=64)
    issued_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    rotations: int = 0


class InstanceSecret(SQLModel, table=True):
    """A random secret made once per database when no LIFELINE_LINK_SECRET is configured."""

    __tablename__ = "instance_secrets"

    name: str = Field(primary_key=True, max_length=50)
    value: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class IntakeRequest(SQLModel, table=True):
    """A creator's request on /help, waiting for the emailed code (only the code's hash is kept)."""

    __tablename__ = "intake_requests"
    __table_args__ = (
        sa.Index("ix_intake_requests_email_created_at", "email", "created_at"),
        sa.Index("ix_intake_requests_address_created_at", "address", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    email: str = Field(max_length=320)
    address: str = Field(max_length=100)
    code_hash: str = Field(max_length=64)
    request: dict[str, Any] = Field(sa_type=sa.JSON, sa_column_kwargs={"nullable": False})
    created_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    wrong_codes: int = 0
    status: str = Field(default="pending", max_length=20)
    case_id: str | None = Field(default=None, max_length=40)
