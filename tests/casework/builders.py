"""Scenario builders for the services' tests: a registered policy, an open case, a clock."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from casework.cases.lifecycle import open_case
from casework.history.case_changes import CaseChange
from casework.registry import policy_registry
from models.db import session_scope
from policies.model import Policy
from tests.engine.builders import make_policy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday

CREATOR: dict[str, Any] = {
    "creator": {
        "id": "cr_1",
        "handle": "@mia",
        "platform": "youtube",
        "tier": "partner",
        "followers": 120000,
    },
    "impact": {"monetized": True, "linked_accounts_at_risk": 0},
    "summary": "account taken over, 2FA changed",
}


def at(minutes: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, hours=hours)


def versioned(policy: Policy) -> Policy:
    """``policy`` with a canonical document and hash, as the loader would give it."""
    document = repr(policy)
    return replace(policy, canonical_json=document, sha256=hashlib.sha256(document.encode()).hexdigest())


def register(engine: Engine, policy: Policy | None = None, now: datetime = T0) -> Policy:
    policy = versioned(policy or make_policy())
    with session_scope(engine) as session:
        policy_registry.register_policies(session, [policy], now)
    return policy


def open_one(engine: Engine, now: datetime = T0, attributes: dict[str, Any] | None = None) -> CaseChange:
    with session_scope(engine) as session:
        return open_case(
            session,
            incident_type="account_compromised",
            attributes=attributes or CREATOR,
            actor="agent:ana",
            now=now,
        )


def fresh(session: Session) -> Session:
    session.expire_all()
    return session


def policy_document(**changes: Any) -> dict[str, Any]:
    """A policy document as a platform writes it (the shape of DESIGN.md's example)."""
    doc: dict[str, Any] = {
        "id": "account-compromised",
        "title": "Creator account compromised",
        "incident_type": "account_compromised",
        "calendar": "always",
        "priority": {
            "default": "P2",
            "rules": [
                {"if": {"field": "creator.tier", "op": "in", "value": ["partner", "top"]}, "then": "P1"}
            ],
        },
        "clocks": {
            "first_response": {
                "target": {"P1": "PT15M", "P2": "PT1H", "P3": "PT4H"},
                "stops_on": ["acknowledged"],
                "warn_at": 0.75,
                "on_breach": [{"notify": "support-leads"}],
            },
            "resolution": {
                "target": {"P1": "PT8H", "P2": "P1D", "P3": "P3D"},
                "pauses_on": ["waiting_on_creator"],
                "stops_on": ["resolved"],
                "on_breach": [{"notify": "partner-managers"}],
            },
        },
        "stages": [
            {
                "id": "frontline",
                "queue": "creator-support",
                "escalate_after": {"P1": "PT30M", "P2": "PT2H", "P3": "PT8H"},
            },
            {
                "id": "account-security",
                "queue": "security-specialists",
                "escalate_after": "PT4H",
                "on_enter": [{"notify": "security-oncall"}],
            },
        ],
    }
    doc.update(changes)
    return doc
