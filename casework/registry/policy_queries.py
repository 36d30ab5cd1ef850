"""Read-side queries on the policy registry for the API: one policy's versions and documents."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from casework.errors import PolicyNotRegistered
from models.tables import Case, PolicyVersion
from sla_engine.kinds import ACTIVE_STATUSES


@dataclass(frozen=True)
class StoredVersion:
    version: int
    sha256: str
    title: str
    incident_type: str
    registered_at: datetime
    open_cases: int
    document: dict[str, Any]
    retired_at: datetime | None = None  # the policy's (every version carries it)


def policy_versions(session: Session, policy_id: str) -> list[StoredVersion]:
    """Every registered version of ``policy_id``, oldest first; PolicyNotRegistered if none."""
    rows = list(
        session.exec(
            select(PolicyVersion)
            .where(PolicyVersion.policy_id == policy_id)
            .order_by(col(PolicyVersion.version))
        )
    )
    if not rows:
        raise PolicyNotRegistered(f"policy {policy_id!r}")
    active = [str(s) for s in ACTIVE_STATUSES]
    counts = dict(
        session.exec(
            select(Case.policy_version, func.count())
            .where(Case.policy_id == policy_id, col(Case.status).in_(active))
            .group_by(col(Case.policy_version))
        ).all()
    )
    return [
        StoredVersion(
            row.version,
            row.sha256,
            row.title,
            row.incident_type,
            row.registered_at,
            counts.get(row.version, 0),
            _document(row.document),
            row.retired_at,
        )
        for row in rows
    ]


def _document(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
