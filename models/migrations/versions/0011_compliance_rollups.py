"""Compliance roll-ups: per UTC day of opening and report group (policy id and version, incident
type, priority, queue), the cases opened (``rollup_cases``), per clock the met, breached, cycles
and missed cycles counts and the stops' working and wall durations as DDSketch bins
(``rollup_clocks``), per stage the escalations (``rollup_escalations``). Kept in the events'
transaction by casework.history.rollups, so the compliance report merges a few rows per day instead
of scanning every case. Backfilled here from ``cases``, ``clock_outcomes`` and ``case_escalations``
(the rows the report scanned), by the same code as ``lifeline reports rebuild``.

Only table names of earlier revisions are used, so this revision can follow any revision that
leaves ``cases``, ``clock_outcomes`` (with ``cycles``) and ``case_escalations`` in place.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES: dict[str, tuple[list[str], list[tuple[str, Any]]]] = {
    "rollup_cases": ([], [("cases", sa.Integer())]),
    "rollup_clocks": (
        ["clock"],
        [
            ("met", sa.Integer()),
            ("breached", sa.Integer()),
            ("cycles", sa.Integer()),
            ("missed_cycles", sa.Integer()),
            ("working", sa.Text()),
            ("wall", sa.Text()),
        ],
    ),
    "rollup_escalations": (["stage"], [("escalations", sa.Integer()), ("manual", sa.Integer())]),
}
KEY = ["day", "policy_id", "policy_version", "incident_type", "priority", "queue"]


def _key_columns(more: list[str]) -> list[sa.Column[Any]]:
    return [
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("incident_type", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.String(length=20), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        *(sa.Column(name, sa.String(length=100), nullable=False) for name in more),
    ]


def upgrade() -> None:
    for name, (more, values) in TABLES.items():
        op.create_table(
            name,
            *_key_columns(more),
            *(sa.Column(column, kind, nullable=False) for column, kind in values),
            sa.PrimaryKeyConstraint(*KEY, *more, name=f"pk_{name}"),
        )
    # The backfill is the rebuild's code (Python: the sketches' bins are computed, not SQL).
    from casework.history.rollups import rebuild

    rebuild(op.get_bind())


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
