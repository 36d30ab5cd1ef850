"""Signed chain digests (casework.audit.digests: a periodic, Ed25519-signed checkpoint of every
case's chain head, so a history cut short is detected), and the orchestrator mode of each worker's
heartbeat (``prefect`` or ``degraded``, for /healthz and /metrics), and each notification's count of
redeliveries (``lifeline notifications redeliver``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chain_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chain_digests_created_at", "chain_digests", ["created_at"])
    with op.batch_alter_table("worker_heartbeats") as batch:
        batch.add_column(sa.Column("orchestrator", sa.String(length=20), nullable=True))
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("redeliveries", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("redeliveries")
    with op.batch_alter_table("worker_heartbeats") as batch:
        batch.drop_column("orchestrator")
    op.drop_index("ix_chain_digests_created_at", table_name="chain_digests")
    op.drop_table("chain_digests")
