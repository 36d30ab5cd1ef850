"""Signed-out console sessions (``console_session_ends``): signing out ends the session on the
server, so a copy of its cookie is refused too (models/session_tables.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_session_ends",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index("ix_console_session_ends_key_id", "console_session_ends", ["key_id"])
    op.create_index("ix_console_session_ends_expires_at", "console_session_ends", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_console_session_ends_expires_at", table_name="console_session_ends")
    op.drop_index("ix_console_session_ends_key_id", table_name="console_session_ends")
    op.drop_table("console_session_ends")
