"""Policy lifecycle: ``retired_at`` on each registered policy version (``lifeline policies retire
ID``, POST /v1/policies/{id}/retire). A retired policy opens no new case (409 naming it); its open
cases keep their pinned version and keep escalating. Every version of the policy carries the same
instant, so whichever version a reader looks at says it; a version registered later inherits it.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD / DROP COLUMN, not a batch: SQLite would rebuild the table, which cases reference.


def upgrade() -> None:
    op.add_column("policy_versions", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("policy_versions", "retired_at")
