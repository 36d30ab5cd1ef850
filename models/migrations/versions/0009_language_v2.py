"""Policy language v2: each clock outcome counts its cycles (``next_reply`` and ``periodic_update``
clocks measure one cycle per creator message or update): ``cycles``, the highest cycle a stop or
breach event named, and ``missed_cycles``, the cycles that breached. Both covering indexes of the
compliance report carry them. Elapsed clocks (every clock before v2) have no cycles: 0, so nothing
is backfilled.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUPS = ["policy_id", "policy_version", "incident_type", "priority", "queue"]
OLD_VALUES = ["breached", "stop_seq", "working_micros", "wall_micros"]
NEW_VALUES = [*OLD_VALUES, "cycles", "missed_cycles"]


def _indexes(values: list[str]) -> None:
    op.create_index("ix_clock_outcomes_report", "clock_outcomes", ["opened_at", *GROUPS, "clock", *values])
    op.create_index("ix_clock_outcomes_groups", "clock_outcomes", [*GROUPS, "clock", "opened_at", *values])


def _drop_indexes() -> None:
    op.drop_index("ix_clock_outcomes_report", table_name="clock_outcomes")
    op.drop_index("ix_clock_outcomes_groups", table_name="clock_outcomes")


def upgrade() -> None:
    _drop_indexes()
    with op.batch_alter_table("clock_outcomes") as batch:
        batch.add_column(sa.Column("cycles", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("missed_cycles", sa.Integer(), nullable=False, server_default="0"))
    _indexes(NEW_VALUES)


def downgrade() -> None:
    _drop_indexes()
    with op.batch_alter_table("clock_outcomes") as batch:
        batch.drop_column("missed_cycles")
        batch.drop_column("cycles")
    _indexes(OLD_VALUES)
