"""Indexes that serve the case listing's whole sort key, ``(next_deadline_at, id)``, alone and
within a queue: with the deadline only, cases sharing a deadline were sorted by id in a temporary
B-tree on every page.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_cases_queue_next_deadline_at", table_name="cases")
    op.drop_index("ix_cases_next_deadline_at", table_name="cases")
    op.create_index("ix_cases_queue_next_deadline_at_id", "cases", ["queue", "next_deadline_at", "id"])
    op.create_index("ix_cases_next_deadline_at_id", "cases", ["next_deadline_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_next_deadline_at_id", table_name="cases")
    op.drop_index("ix_cases_queue_next_deadline_at_id", table_name="cases")
    op.create_index("ix_cases_next_deadline_at", "cases", ["next_deadline_at"])
    op.create_index("ix_cases_queue_next_deadline_at", "cases", ["queue", "next_deadline_at"])
