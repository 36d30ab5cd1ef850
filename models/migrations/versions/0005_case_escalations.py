"""Case escalations: one narrow row per ``escalated`` event (stage entered, by hand or not) with the
case's group columns, kept by casework.history.clock_outcomes in the events' transaction, so the compliance
report counts a period's escalations from one covering index instead of joining every ``escalated``
event to its case and reading the stage from the event's JSON. Backfilled here from the events, so
an upgraded database reports what it reported before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUPS = ["policy_id", "policy_version", "incident_type", "priority", "queue"]
#: The actor of the sweep's automatic escalations (sla_engine.kinds.SYSTEM_ACTOR when written).
SYSTEM_ACTOR = "system:escalation"
#: Per dialect, the event's ``data.to`` as text (as the report read it before: null when absent).
_STAGE = {"sqlite": "json_extract(e.data, '$.to')", "postgresql": "(e.data ->> 'to')"}

BACKFILL = """
INSERT INTO case_escalations (case_id, seq, opened_at, policy_id, policy_version, incident_type,
    priority, queue, stage, manual)
SELECT c.id, e.seq, c.opened_at, c.policy_id, c.policy_version, c.incident_type, c.priority,
    c.queue, CAST({stage} AS TEXT), e.actor <> '{system}'
FROM case_events e JOIN cases c ON c.id = e.case_id
WHERE e.kind = 'escalated'
"""


def backfill_sql(dialect: str) -> str:
    """The INSERT ... SELECT that derives every escalation's row from the stored events."""
    return BACKFILL.format(stage=_STAGE[dialect], system=SYSTEM_ACTOR)


def upgrade() -> None:
    op.create_table(
        "case_escalations",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("incident_type", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("stage", sa.String(), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "seq", name="pk_case_escalations"),
    )
    op.execute(backfill_sql(op.get_bind().dialect.name))
    op.create_index(
        "ix_case_escalations_report", "case_escalations", ["opened_at", *GROUPS, "stage", "manual"]
    )


def downgrade() -> None:
    op.drop_index("ix_case_escalations_report", table_name="case_escalations")
    op.drop_table("case_escalations")
