"""Indexes for the compliance report: the cases opened in a period with the columns it groups by
(so counting them never reads a case's state), and the events of a kind of a case.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CASES_COLUMNS = ["opened_at", "policy_id", "policy_version", "incident_type", "priority", "queue", "id"]


def upgrade() -> None:
    op.create_index("ix_cases_opened_at_report", "cases", CASES_COLUMNS)
    op.create_index("ix_case_events_kind_case_id", "case_events", ["kind", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_case_events_kind_case_id", table_name="case_events")
    op.drop_index("ix_cases_opened_at_report", table_name="cases")
