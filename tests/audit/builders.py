"""Scenario builders for audit tests: demo-like histories written through the real services.

``simulate_histories`` registers the bundled policies, opens creator cases over a day (some
backdated, like ``lifeline demo``), and then walks time forward in steps: at each step the worker
sweeps (applies due timers at that instant, possibly late) and agents act on random cases with the
actions a real desk uses (acknowledge, assign, note, request info and creator replies, manual
escalation, priority changes, attribute updates, resolve, reopen, close). Seeded: the same seed
gives the same history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from casework import api_keys
from casework.cases.escalations import apply_due_timers, claim_due_cases
from casework.cases.lifecycle import apply_action, open_case
from casework.registry import policy_registry
from casework.settings import get_settings
from models.db import session_scope
from models.kinds import Role
from models.tables import Case
from policies.loader import load_policy_dir
from sla_engine.agent_actions import InvalidAction
from sla_engine.transitions import ForbiddenTransition

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
INCIDENTS = (
    "account_compromised",
    "account_locked",
    "content_blocked",
    "monetization_suspended",
    "impersonation",
    "brand_deal_at_risk",
)
TIERS = ("standard", "standard", "partner", "top")
#: The desk's agents (``assign`` takes only known agents: casework.cases.assignees).
AGENTS = ("ana", "bo", "cy")


@dataclass
class World:
    engine: Engine
    rng: random.Random
    now: datetime = START
    case_ids: list[str] = field(default_factory=list)


def register_bundled(engine: Engine, now: datetime = START - timedelta(days=1)) -> None:
    policies = load_policy_dir(get_settings().policies_dir)
    with session_scope(engine) as session:
        policy_registry.register_policies(session, list(policies.values()), now)


def attributes(rng: random.Random, now: datetime) -> dict[str, Any]:
    impact: dict[str, Any] = {
        "monetized": rng.random() < 0.6,
        "linked_accounts_at_risk": rng.choice((0, 0, 1, 2)),
        "estimated_daily_revenue": rng.choice((0, 300, 2500)),
    }
    if rng.random() < 0.3:
        post = now + timedelta(minutes=rng.randint(60, 36 * 60))
        impact["next_sponsored_post_at"] = post.isoformat().replace("+00:00", "Z")
    n = rng.randint(1, 10**6)
    creator = {"id": f"cr_{n}", "handle": f"@c{n}", "platform": "youtube", "tier": rng.choice(TIERS)}
    return {"summary": "creator needs help", "creator": {**creator, "followers": n}, "impact": impact}


def _open(world: World) -> None:
    backdate = timedelta(minutes=world.rng.choice((0, 0, 0, 5, 40, 200)))
    with session_scope(world.engine) as session:
        change = open_case(
            session,
            incident_type=world.rng.choice(INCIDENTS),
            attributes=attributes(world.rng, world.now),
            actor="agent:ana",
            now=world.now,
            opened_at=world.now - backdate,
        )
    world.case_ids.append(change.case.id)


def _action(rng: random.Random, now: datetime) -> tuple[str, dict[str, Any]]:
    name = rng.choice(
        (
            "acknowledge", "acknowledge", "start", "note", "assign", "request_info", "creator_replied",
            "escalate", "set_priority", "set_priority", "update_attributes", "resolve", "resolve",
            "reopen", "close", "reply", "reply",
        )
    )  # fmt: skip
    args: dict[str, Any] = {}
    if name == "reply":
        args = {"message": "we are on it"}
    elif name == "request_info" and rng.random() < 0.5:
        args = {"until": (now + timedelta(minutes=rng.choice((20, 90)))).isoformat()}
    elif name == "note":
        args = {"text": "called the creator"}
    elif name == "assign":
        args = rng.choice(
            ({"assignee": "bo"}, {"assignee": None}, {"assignee": "cy", "queue": "security-specialists"})
        )
    elif name == "set_priority":
        args = {"priority": rng.choice(("P1", "P2", "P3", None))}
    elif name == "update_attributes":
        args = {"attributes": {"impact": {"linked_accounts_at_risk": rng.choice((0, 3))}}}
    elif name in ("escalate", "resolve") and rng.random() < 0.5:
        args = {"reason": "by the book"}
    return name, args


def _act(world: World) -> None:
    case_id = world.rng.choice(world.case_ids)
    name, args = _action(world.rng, world.now)
    actor = world.rng.choice(("agent:ana", "agent:bo"))
    try:
        with session_scope(world.engine) as session:
            apply_action(session, case_id, name, args, actor, world.now)
    except (InvalidAction, ForbiddenTransition):
        # Refused by the state machine or for its arguments: writes nothing, like a 409 or 422 from
        # the API. Any other domain error (a stale version, a duplicate timed event, a missing case)
        # is a bug in the services and fails the test.
        pass


def _sweep(world: World) -> None:
    with session_scope(world.engine) as session:
        apply_due_timers(session, claim_due_cases(session, world.now, limit=500), world.now)


def simulate_histories(engine: Engine, cases: int, seed: int = 7, steps: int | None = None) -> World:
    """Open ``cases`` cases and work them for a simulated day and a half; returns the world (its
    ``now`` is the last instant written)."""
    world = World(engine, random.Random(seed))
    register_bundled(engine)
    with session_scope(engine) as session:
        for name in AGENTS:
            api_keys.create_key(session, name, Role.AGENT, START - timedelta(days=1))
    steps = steps or max(60, cases // 3)
    per_step = max(1, cases // steps)
    for _ in range(steps):
        world.now += timedelta(seconds=world.rng.randint(60, 1800))
        for _ in range(per_step):
            if len(world.case_ids) < cases:
                _open(world)
        for _ in range(per_step * 3):
            _act(world)
        if world.rng.random() < 0.8:
            world.now += timedelta(seconds=world.rng.choice((0, 0.3, 2, 45)))
            _sweep(world)
    while len(world.case_ids) < cases:
        _open(world)
    return world


def case_ids(engine: Engine) -> list[str]:
    with session_scope(engine, write=False) as session:
        return list(session.exec(select(Case.id).order_by(Case.id)))
