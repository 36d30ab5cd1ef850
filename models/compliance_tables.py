"""The compliance report's derived tables: each clock's outcome and each escalation as narrow rows
(``clock_outcomes``, ``case_escalations``), and the per-day roll-ups the report merges
(``rollup_*``). All are written in the events' transaction (casework.history.clock_outcomes,
casework.history.rollups), recomputed by ``lifeline reports rebuild``, and never hashed: the hash
chain is ``case_events`` alone. models.tables re-exports every name here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime

#: The columns the compliance report groups by, as its indexes hold them.
OUTCOME_GROUPS = ("policy_id", "policy_version", "incident_type", "priority", "queue")
OUTCOME_VALUES = ("breached", "stop_seq", "working_micros", "wall_micros", "cycles", "missed_cycles")


def _utc() -> Any:
    return Field(sa_type=UTCDateTime, nullable=False)


class ClockOutcome(SQLModel, table=True):
    """How one SLA clock of a case has fared so far, derived from its events in the same transaction
    (casework.history.clock_outcomes): a row once the clock breached or stopped. ``breached``: a ``breached``
    event of the clock exists; ``stop_seq``, ``working_micros`` (the stop's ``data.elapsed``) and
    ``wall_micros`` (its ``at`` minus ``opened_at``) are the last ``clock_stopped`` event's (a reopen
    resumes the clock but leaves them until it stops again). The case's group columns are copied
    (priority and queue kept current) so the compliance report reads this table alone. Derived
    data: not part of the hash chain."""

    __tablename__ = "clock_outcomes"
    __table_args__ = (
        sa.PrimaryKeyConstraint("case_id", "clock", name="pk_clock_outcomes"),
        # The compliance report's read, covering every column it aggregates: by period first
        # (PostgreSQL), and by group then period (SQLite skips from group to group: no sort).
        sa.Index("ix_clock_outcomes_report", "opened_at", *OUTCOME_GROUPS, "clock", *OUTCOME_VALUES),
        sa.Index("ix_clock_outcomes_groups", *OUTCOME_GROUPS, "clock", "opened_at", *OUTCOME_VALUES),
    )

    case_id: str = Field(foreign_key="cases.id", max_length=40)
    clock: str = Field(max_length=100)
    opened_at: datetime = _utc()
    policy_id: str = Field(max_length=100)
    policy_version: int
    incident_type: str = Field(max_length=100)
    priority: str = Field(max_length=20)
    queue: str = Field(max_length=100)
    breached: bool = False
    stop_seq: int | None = None
    working_micros: int | None = Field(default=None, sa_type=sa.BigInteger)
    wall_micros: int | None = Field(default=None, sa_type=sa.BigInteger)
    #: A cycle clock's (next_reply, periodic_update) highest cycle a stop or breach named, and how
    #: many cycles breached; 0 for an elapsed clock.
    cycles: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    missed_cycles: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class CaseEscalation(SQLModel, table=True):
    """One ``escalated`` event, narrow: the stage entered (``data.to`` as text, null when the event
    names none) and whether an agent made it, with the case's group columns (priority and queue kept
    current, as in ``clock_outcomes``), so the compliance report counts a period's escalations from
    one index instead of joining every ``escalated`` event to its case and reading its JSON. Written
    in the events' transaction (casework.history.clock_outcomes). Derived data: not part of the hash chain."""

    __tablename__ = "case_escalations"
    __table_args__ = (
        sa.PrimaryKeyConstraint("case_id", "seq", name="pk_case_escalations"),
        # The compliance report's read, covering every column it counts.
        sa.Index("ix_case_escalations_report", "opened_at", *OUTCOME_GROUPS, "stage", "manual"),
    )

    case_id: str = Field(foreign_key="cases.id", max_length=40)
    seq: int
    opened_at: datetime = _utc()
    policy_id: str = Field(max_length=100)
    policy_version: int
    incident_type: str = Field(max_length=100)
    priority: str = Field(max_length=20)
    queue: str = Field(max_length=100)
    stage: str | None = None
    manual: bool = False


#: The key of every compliance roll-up row: the UTC day the cases opened, then the report's groups.
ROLLUP_KEY = ("day", *OUTCOME_GROUPS)


def _rollup_key(*more: str) -> tuple[sa.Column[Any], ...]:
    columns: list[sa.Column[Any]] = [
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("policy_id", sa.String(100), nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("incident_type", sa.String(100), nullable=False),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("queue", sa.String(100), nullable=False),
    ]
    return (*columns, *(sa.Column(name, sa.String(100), nullable=False) for name in more))


#: Compliance roll-ups (casework.history.rollups keeps them in the events' transaction; migration
#: 0011 and ``lifeline reports rebuild`` recompute them from ``cases``, ``clock_outcomes`` and
#: ``case_escalations``). Derived data, never hashed. Plain tables (no SQLModel class): they are
#: only read and written as rows, by key.
ROLLUP_CASES = sa.Table(
    "rollup_cases",
    SQLModel.metadata,
    *_rollup_key(),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint(*ROLLUP_KEY, name="pk_rollup_cases"),
)
ROLLUP_CLOCKS = sa.Table(
    "rollup_clocks",
    SQLModel.metadata,
    *_rollup_key("clock"),
    sa.Column("met", sa.Integer, nullable=False),
    sa.Column("breached", sa.Integer, nullable=False),
    sa.Column("cycles", sa.Integer, nullable=False),
    sa.Column("missed_cycles", sa.Integer, nullable=False),
    #: DDSketch bins of the stops' working and wall microseconds (casework.history.quantile_sketch).
    sa.Column("working", sa.Text, nullable=False),
    sa.Column("wall", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint(*ROLLUP_KEY, "clock", name="pk_rollup_clocks"),
)
ROLLUP_ESCALATIONS = sa.Table(
    "rollup_escalations",
    SQLModel.metadata,
    *_rollup_key("stage"),
    sa.Column("escalations", sa.Integer, nullable=False),
    sa.Column("manual", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint(*ROLLUP_KEY, "stage", name="pk_rollup_escalations"),
)
