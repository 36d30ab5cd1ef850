"""Template cases for the bulk loader, opened and worked by the real services.

Every bundled policy, two creator tiers and a range of ages give a few hundred templates: some due
at the sweep instant, some with breaches already recorded, some resolved (in time or late), most
fresh. The loader (bench/dataset.py) copies them with new ids, so every row in a benchmark
database is a row Lifeline itself wrote, only repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import col, select

from casework.cases.lifecycle import apply_action, open_case
from casework.registry import policy_registry
from models.db import session_scope
from models.tables import Breach, Case
from policies.loader import load_policy_dir

#: The instant the sweep benchmark escalates at; templates are opened 10 minutes before it.
SWEEP_NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
LOADED_AT = SWEEP_NOW - timedelta(minutes=10)
ACTOR = "agent:bench"

#: Ages (minutes before the load instant) of the open templates: from just opened to four weeks.
OPEN_AGES = (
    0,
    2,
    4,
    6,
    8,
    10,
    14,
    25,
    40,
    52,
    58,
    75,
    110,
    119,
    170,
    179,
    235,
    239,
    300,
    470,
    479,
    720,
    1440,
    2880,
    5760,
    10080,
    20160,
    40000,
)
#: Resolved templates: (age in minutes, acknowledged after, resolved after), in minutes.
RESOLVED = (
    (600, 5, 90),
    (3000, 10, 300),
    (9000, 45, 600),
    (20000, 200, 3000),
    (30000, 3, 40),
    (40000, 300, 4000),
)
TIERS = ("partner", "standard")


@dataclass(frozen=True)
class Template:
    case_id: str
    next_deadline_at: datetime | None
    breaches: int
    resolved: bool

    def due(self, at: datetime) -> bool:
        return self.next_deadline_at is not None and self.next_deadline_at <= at


def attributes(tier: str, now: datetime) -> dict[str, Any]:
    return {
        "creator": {
            "id": f"cr_{tier}",
            "handle": f"@bench_{tier}",
            "platform": "youtube",
            "tier": tier,
            "followers": 250_000 if tier == "partner" else 12_000,
        },
        "impact": {
            "monetized": tier == "partner",
            "linked_accounts_at_risk": 0,
            "next_sponsored_post_at": (now + timedelta(days=3)).isoformat(),
        },
        "summary": "benchmark case: account access lost, sponsored post in three days",
    }


def register_bundled(engine: Engine, now: datetime) -> list[str]:
    policies = load_policy_dir(None)
    with session_scope(engine) as session:
        policy_registry.register_policies(session, list(policies.values()), now)
    return sorted(policies)


def open_templates(
    engine: Engine,
    loaded_at: datetime = LOADED_AT,
    ages: Sequence[int] = OPEN_AGES,
    resolved: Sequence[tuple[int, int, int]] = RESOLVED,
) -> list[Template]:
    """Register the bundled policies and open the templates (one transaction); as of ``loaded_at``
    every timer due by then is recorded."""
    policy_ids = register_bundled(engine, loaded_at - timedelta(days=60))
    ids: list[tuple[str, bool]] = []
    with session_scope(engine) as session:
        for policy_id in policy_ids:
            for tier in TIERS:
                for age in ages:
                    opened = loaded_at - timedelta(minutes=age)
                    change = open_case(
                        session,
                        policy_id=policy_id,
                        attributes=attributes(tier, opened),
                        actor=ACTOR,
                        now=loaded_at,
                        opened_at=opened,
                    )
                    ids.append((change.case.id, False))
                for age, ack, done in resolved:
                    opened = loaded_at - timedelta(minutes=age)
                    case = open_case(
                        session,
                        policy_id=policy_id,
                        attributes=attributes(tier, opened),
                        actor=ACTOR,
                        now=opened,
                    ).case
                    apply_action(session, case.id, "acknowledge", {}, ACTOR, opened + timedelta(minutes=ack))
                    apply_action(session, case.id, "resolve", {}, ACTOR, opened + timedelta(minutes=done))
                    ids.append((case.id, True))
    return describe(engine, ids)


def describe(engine: Engine, ids: Sequence[tuple[str, bool]]) -> list[Template]:
    with session_scope(engine, write=False) as session:
        deadlines = dict(session.exec(select(Case.id, Case.next_deadline_at)).all())
        counts = dict(session.exec(select(Breach.case_id, func.count()).group_by(col(Breach.case_id))).all())
    return [Template(cid, deadlines[cid], int(counts.get(cid, 0)), done) for cid, done in ids]
