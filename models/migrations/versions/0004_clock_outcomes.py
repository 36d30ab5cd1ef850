"""Clock outcomes: one row per clock of a case once it breached or stopped (casework.history.clock_outcomes
keeps them in the transaction that writes the events), with the case's group columns, so the
compliance report reads one narrow, covering index instead of every clock event's JSON; and the
cases' report columns by group then period (SQLite counts each group's range without a sort).
Backfilled here from the events, so an upgraded database reports what it reported before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GROUPS = ["policy_id", "policy_version", "incident_type", "priority", "queue"]
VALUES = ["breached", "stop_seq", "working_micros", "wall_micros"]

# Per dialect: a JSON field as text, the stop's elapsed seconds as whole microseconds, and the
# stop's wall microseconds since opening (exact, as casework.history.clock_outcomes computes them).
_SQLITE = {
    "field": "json_extract({t}.data, '$.{f}')",
    "working": "CAST(round(json_extract(s.data, '$.elapsed') * 1000000) AS INTEGER)",
    "wall": "(CAST(strftime('%s', s.at) AS INTEGER) - CAST(strftime('%s', c.opened_at) AS INTEGER))"
    " * 1000000 + CAST(substr(s.at, 21, 6) AS INTEGER) - CAST(substr(c.opened_at, 21, 6) AS INTEGER)",
}
_POSTGRES = {
    "field": "({t}.data ->> '{f}')",
    "working": "CAST(round(CAST(s.data ->> 'elapsed' AS double precision) * 1000000) AS BIGINT)",
    "wall": "CAST(extract(epoch FROM s.at - c.opened_at) * 1000000 AS BIGINT)",
}

BACKFILL = """
INSERT INTO clock_outcomes (case_id, clock, opened_at, policy_id, policy_version, incident_type,
    priority, queue, breached, stop_seq, working_micros, wall_micros)
SELECT c.id, k.clock, c.opened_at, c.policy_id, c.policy_version, c.incident_type, c.priority,
    c.queue,
    EXISTS (SELECT 1 FROM case_events b WHERE b.kind = 'breached' AND b.case_id = k.case_id
        AND {b_clock} = k.clock),
    s.seq, {working}, {wall}
FROM (SELECT DISTINCT e.case_id, {e_clock} AS clock FROM case_events e
      WHERE e.kind IN ('breached', 'clock_stopped') AND {e_clock} IS NOT NULL) k
JOIN cases c ON c.id = k.case_id
LEFT JOIN case_events s ON s.case_id = k.case_id AND s.seq = (
    SELECT max(l.seq) FROM case_events l
    WHERE l.kind = 'clock_stopped' AND l.case_id = k.case_id AND {l_clock} = k.clock)
"""


def backfill_sql(dialect: str) -> str:
    """The INSERT ... SELECT that derives every clock's outcome from the stored events."""
    parts = _SQLITE if dialect == "sqlite" else _POSTGRES
    clock = {f"{t}_clock": parts["field"].format(t=t, f="clock") for t in ("b", "e", "l")}
    return BACKFILL.format(working=parts["working"], wall=parts["wall"], **clock)


def upgrade() -> None:
    op.create_table(
        "clock_outcomes",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("clock", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("incident_type", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("stop_seq", sa.Integer(), nullable=True),
        sa.Column("working_micros", sa.BigInteger(), nullable=True),
        sa.Column("wall_micros", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "clock", name="pk_clock_outcomes"),
    )
    op.execute(backfill_sql(op.get_bind().dialect.name))
    op.create_index("ix_clock_outcomes_report", "clock_outcomes", ["opened_at", *GROUPS, "clock", *VALUES])
    op.create_index("ix_clock_outcomes_groups", "clock_outcomes", [*GROUPS, "clock", "opened_at", *VALUES])
    op.create_index("ix_cases_report_groups", "cases", [*GROUPS, "opened_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_report_groups", table_name="cases")
    op.drop_index("ix_clock_outcomes_groups", table_name="clock_outcomes")
    op.drop_index("ix_clock_outcomes_report", table_name="clock_outcomes")
    op.drop_table("clock_outcomes")
