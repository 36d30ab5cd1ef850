"""A policy's lifecycle beyond registering versions: retiring it, and previewing what applying
changed files would register (``lifeline policies apply --dry-run``). Flush, never commit.

A retired policy opens no new case (``pin_for_new_case`` raises PolicyRetired: HTTP 409, naming
it); its open cases keep their pinned version and keep escalating, since the worker reads the
version a case pins, never whether its policy may still open cases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from casework.registry.policy_registry import latest_registered, latest_version
from models.tables import Case, PolicyVersion
from policies.json_diff import Change, pointer_diff
from policies.model import Policy
from sla_engine.kinds import ACTIVE_STATUSES


@dataclass(frozen=True)
class Retirement:
    policy_id: str
    retired_at: datetime
    #: False when the policy was already retired (the first instant is kept).
    changed: bool
    open_cases: int


def retire_policy(session: Session, policy_id: str, now: datetime) -> Retirement:
    """Retire ``policy_id`` (every version); PolicyNotRegistered if it has none. Retiring twice
    keeps the first instant."""
    latest = latest_registered(session, policy_id)
    changed = latest.retired_at is None
    if changed:
        session.execute(
            update(PolicyVersion).where(col(PolicyVersion.policy_id) == policy_id).values(retired_at=now)
        )
        session.flush()
    retired_at = now if changed else latest.retired_at
    assert retired_at is not None
    return Retirement(policy_id, retired_at, changed, open_cases(session, policy_id))


def open_cases(session: Session, policy_id: str, version: int | None = None) -> int:
    """How many open cases pin ``policy_id`` (at ``version``, when given)."""
    query = select(func.count()).where(
        Case.policy_id == policy_id, col(Case.status).in_([str(s) for s in ACTIVE_STATUSES])
    )
    if version is not None:
        query = query.where(Case.policy_version == version)
    return int(session.exec(query).one())


@dataclass(frozen=True)
class PlannedVersion:
    """What applying one policy would do: ``version`` None for a policy not registered yet."""

    policy_id: str
    version: int | None
    changes: Sequence[Change]
    open_cases: int

    @property
    def changed(self) -> bool:
        return self.version is None or bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "registered_version": self.version,
            "new": self.version is None,
            "changes": [c.to_dict() for c in self.changes],
            "open_cases_on_registered_version": self.open_cases,
        }


def plan_apply(session: Session, policies: Sequence[Policy]) -> list[PlannedVersion]:
    """For each policy, its JSON-pointer diff against the latest registered version and how many
    open cases pin that version; reads only."""
    plans = []
    for policy in policies:
        latest = latest_version(session, policy.id)
        if latest is None:
            plans.append(PlannedVersion(policy.id, None, [], 0))
            continue
        changes: list[Change] = []
        if latest.sha256 != policy.sha256:
            changes = pointer_diff(json.loads(latest.document), json.loads(policy.canonical_json))
        plans.append(
            PlannedVersion(policy.id, latest.version, changes, open_cases(session, policy.id, latest.version))
        )
    return plans
