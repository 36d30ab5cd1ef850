"""The tables of the system of record.

A case's row holds its current state (for queries and for the worker, which advances a case from its
``state`` without replaying history); ``case_events`` is its append-only, hash-chained history;
``breaches`` and ``notifications`` (the outbox) are derived from events in the same transaction,
so state, history, breaches and notifications never disagree.

Every datetime column is ``UTCDateTime`` (aware UTC in and out; naive values are refused). Changing a
table means a new Alembic revision under models/migrations/versions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.compliance_tables import (
    OUTCOME_GROUPS,
    OUTCOME_VALUES,
    ROLLUP_CASES,
    ROLLUP_CLOCKS,
    ROLLUP_ESCALATIONS,
    ROLLUP_KEY,
    CaseEscalation,
    ClockOutcome,
)
from models.kinds import BreachTarget, LinkKind, NotificationStatus, Role
from models.types import EnumText, UTCDateTime
from sla_engine.kinds import EventKind, Status


def _json(nullable: bool = False) -> Any:
    return Field(sa_type=sa.JSON, sa_column_kwargs={"nullable": nullable})


def _utc(nullable: bool = False, **kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kwargs)


class PolicyVersion(SQLModel, table=True):
    """One registered version of a policy: its canonical JSON document and that document's SHA-256.

    Versions count 1, 2, ... per policy id. The same content may appear twice (a reverted edit is
    registered as a new version), so only (policy_id, version) is unique.
    """

    __tablename__ = "policy_versions"
    __table_args__ = (
        sa.UniqueConstraint("policy_id", "version", name="uq_policy_versions_policy_id_version"),
        sa.Index("ix_policy_versions_policy_id_sha256", "policy_id", "sha256"),
        sa.Index("ix_policy_versions_incident_type", "incident_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    policy_id: str = Field(max_length=100)
    version: int
    incident_type: str = Field(max_length=100)
    title: str = Field(default="", max_length=300)
    sha256: str = Field(max_length=64)
    document: str = Field(sa_type=sa.Text)
    registered_at: datetime = _utc()
    #: When the policy was retired (``lifeline policies retire``): no new case opens under it.
    retired_at: datetime | None = _utc(nullable=True, default=None)


class Case(SQLModel, table=True):
    """A case's current state. ``version`` increases by one on every change (optimistic concurrency);
    ``last_seq`` is the seq of its last event; ``state`` is ``sla_engine.state.state_to_dict``."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["policy_id", "policy_version"],
            ["policy_versions.policy_id", "policy_versions.version"],
            name="fk_cases_policy_version",
        ),
        # The listing's sort key, whole, so equal deadlines need no sort by id; alone and after the
        # equality filters an agent's queue uses (queue, "waiting on creator", "assigned to me").
        sa.Index("ix_cases_next_deadline_at_id", "next_deadline_at", "id"),
        sa.Index("ix_cases_queue_next_deadline_at_id", "queue", "next_deadline_at", "id"),
        sa.Index("ix_cases_status_next_deadline_at_id", "status", "next_deadline_at", "id"),
        sa.Index("ix_cases_assignee_next_deadline_at_id", "assignee", "next_deadline_at", "id"),
        sa.Index("ix_cases_incident_type", "incident_type"),
        # The compliance report counts a period's cases by these columns from the index alone.
        sa.Index("ix_cases_opened_at_report", "opened_at", *OUTCOME_GROUPS, "id"),
        # The same by group then period: SQLite counts each group's range without sorting.
        sa.Index("ix_cases_report_groups", *OUTCOME_GROUPS, "opened_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    incident_type: str = Field(max_length=100)
    policy_id: str = Field(max_length=100)
    policy_version: int
    status: Status = Field(sa_type=EnumText(Status))
    stage: str = Field(max_length=100)
    queue: str = Field(max_length=100)
    priority: str = Field(max_length=20)
    assignee: str | None = Field(default=None, max_length=200)
    attributes: dict[str, Any] = _json()
    opened_at: datetime = _utc()
    updated_at: datetime = _utc()
    resolved_at: datetime | None = _utc(nullable=True, default=None)
    next_deadline_at: datetime | None = _utc(nullable=True, default=None)
    state: dict[str, Any] = _json()
    version: int = 1
    last_seq: int = 0


class CaseEvent(SQLModel, table=True):
    """One entry of a case's append-only history. ``hash`` chains it to the previous event
    (see casework.history.hashchain); ``dedupe_key`` is unique per case, so a timed event is stored once."""

    __tablename__ = "case_events"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "seq", name="uq_case_events_case_id_seq"),
        sa.UniqueConstraint("case_id", "dedupe_key", name="uq_case_events_case_id_dedupe_key"),
        sa.Index("ix_case_events_recorded_at", "recorded_at"),
        sa.Index("ix_case_events_kind_case_id", "kind", "case_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="cases.id", max_length=40)
    seq: int
    kind: EventKind = Field(sa_type=EnumText(EventKind))
    at: datetime = _utc()
    recorded_at: datetime = _utc()
    actor: str = Field(max_length=200)
    data: dict[str, Any] = _json()
    policy_version: int
    dedupe_key: str | None = Field(default=None, max_length=300)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Breach(SQLModel, table=True):
    """One missed deadline: a clock's or a stage's. ``due_at`` is the deadline, ``detected_at`` when
    it was recorded; the copy of priority, queue and incident type is what reports group by."""

    __tablename__ = "breaches"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "target_type", "target", "due_at", name="uq_breaches_target_due"),
        sa.Index("ix_breaches_due_at", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="cases.id", max_length=40)
    event_seq: int
    target_type: BreachTarget = Field(sa_type=EnumText(BreachTarget))
    target: str = Field(max_length=100)
    due_at: datetime = _utc()
    detected_at: datetime = _utc()
    priority: str = Field(max_length=20)
    policy_version: int
    incident_type: str = Field(max_length=100)
    queue: str = Field(max_length=100)


class Notification(SQLModel, table=True):
    """The transactional outbox: one row per ``notified`` event, delivered by the notification flow.

    Written in the same transaction as the event, so a crash never loses or duplicates a record."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "event_seq", name="uq_notifications_case_id_event_seq"),
        sa.Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="cases.id", max_length=40)
    event_seq: int
    channel: str = Field(max_length=100)
    payload: dict[str, Any] = _json()
    status: NotificationStatus = Field(
        default=NotificationStatus.PENDING, sa_type=EnumText(NotificationStatus)
    )
    attempts: int = 0
    next_attempt_at: datetime | None = _utc(nullable=True, default=None)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _utc()
    delivered_at: datetime | None = _utc(nullable=True, default=None)
    #: How many times an operator queued it again after it was dead (``notifications redeliver``).
    redeliveries: int = 0


class ApiKey(SQLModel, table=True):
    """An API key: only the SHA-256 of the key is stored; ``prefix`` is its first characters, shown
    so people can tell their keys apart."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: Role = Field(sa_type=EnumText(Role))
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=20)
    created_at: datetime = _utc()
    revoked_at: datetime | None = _utc(nullable=True, default=None)


class IdempotencyKey(SQLModel, table=True):
    """An Idempotency-Key the API has honoured: a retry with the same key and request gets the same
    case; the same key with another request is refused (``request_hash`` differs)."""

    __tablename__ = "idempotency_keys"

    key: str = Field(primary_key=True, max_length=300)
    request_hash: str = Field(max_length=64)
    case_id: str = Field(foreign_key="cases.id", max_length=40)
    created_at: datetime = _utc()


class WorkerHeartbeat(SQLModel, table=True):
    """The last time each escalation worker reported alive (for /healthz and operators)."""

    __tablename__ = "worker_heartbeats"

    worker_id: str = Field(primary_key=True, max_length=200)
    beat_at: datetime = _utc()
    #: ``prefect`` (sweeps are flow runs) or ``degraded`` (sweeping without Prefect); None before 0008.
    orchestrator: str | None = Field(default=None, max_length=20)


class ChainDigest(SQLModel, table=True):
    """A signed checkpoint of every case's chain head (casework.audit.digests): ``body`` is the
    exact canonical JSON that ``signature`` (Ed25519, base64) signs, ``key_id`` names the key (the
    SHA-256 of its raw public key). Auditors keep an exported copy outside the database, so a
    history cut short after it is named by ``audit verify --digest``."""

    __tablename__ = "chain_digests"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _utc(index=True)
    cases: int
    key_id: str = Field(max_length=64)
    body: str = Field(sa_type=sa.Text)
    signature: str = Field(sa_type=sa.Text)


class CaseLink(SQLModel, table=True):
    """A link between two cases, stored once per pair: ``parent_of`` (case_id is the parent),
    ``related`` (either way round), ``duplicate_of`` and ``merged_into`` (case_id is the duplicate).
    Every link and unlink is also an event on both cases (casework.links)."""

    __tablename__ = "case_links"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "other_case_id", name="uq_case_links_pair"),
        sa.Index("ix_case_links_other_case_id", "other_case_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="cases.id", max_length=40)
    other_case_id: str = Field(foreign_key="cases.id", max_length=40)
    kind: LinkKind = Field(sa_type=EnumText(LinkKind))
    created_at: datetime = _utc()
    created_by: str = Field(max_length=200)


class BulkRequest(SQLModel, table=True):
    """A bulk action answered under an Idempotency-Key (scoped by API key, as ``idempotency_keys``):
    a retry with the same key and body gets ``response`` again, the cases are not acted on twice."""

    __tablename__ = "bulk_requests"

    key: str = Field(primary_key=True, max_length=300)
    request_hash: str = Field(max_length=64)
    created_at: datetime = _utc()
    response: dict[str, Any] = _json()


# The creator channel's tables live in their own module; importing it here registers them with the
# same metadata wherever the tables are imported.
from models.creator_tables import CreatorLink, InstanceSecret, IntakeRequest  # noqa: E402
from models.session_tables import ConsoleSessionEnd  # noqa: E402

__all__ = [
    "OUTCOME_GROUPS",
    "OUTCOME_VALUES",
    "ROLLUP_CASES",
    "ROLLUP_CLOCKS",
    "ROLLUP_ESCALATIONS",
    "ROLLUP_KEY",
    "ApiKey",
    "Breach",
    "Case",
    "BulkRequest",
    "CaseEscalation",
    "CaseEvent",
    "CaseLink",
    "ChainDigest",
    "ClockOutcome",
    "ConsoleSessionEnd",
    "CreatorLink",
    "IdempotencyKey",
    "InstanceSecret",
    "IntakeRequest",
    "Notification",
    "PolicyVersion",
    "WorkerHeartbeat",
]
