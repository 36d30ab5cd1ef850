"""`lifeline demo`: the bundled policies and a dozen creator cases whose deadlines fall in the next
minutes, plus an agent key, so a newcomer watches escalations happen live (``lifeline serve --demo``).

Each case is opened as if reported a little while ago (``opened_at`` in the past) and with
attributes the policies care about (top-tier creators for P1 targets, sponsored posts due soon for
``not_after`` caps), so first-response breaches and stage escalations follow within minutes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from sqlalchemy import Engine

from casework import api_keys
from casework.api_keys import CreatedKey
from casework.cases.lifecycle import open_case
from casework.creator.links import first_link
from casework.errors import ApiKeyNameTaken
from casework.queries.openers import cases_opened_by
from casework.registry import policy_registry
from casework.settings import get_settings
from cli.apps import app
from cli.common import prepare_database
from models.db import make_engine, session_scope
from models.kinds import Role
from policies.loader import load_policy_dir

ACTOR = "system:demo"
DEMO_KEY = "demo-agent"


@dataclass(frozen=True)
class DemoCase:
    incident_type: str
    opened_minutes_ago: float
    summary: str
    creator: dict[str, Any]
    #: Impact attributes; ``post_in_minutes`` becomes ``next_sponsored_post_at`` (now + minutes).
    impact: dict[str, Any]
    post_in_minutes: float | None = None

    def attributes(self, now: datetime) -> dict[str, Any]:
        impact = dict(self.impact)
        if self.post_in_minutes is not None:
            post = now + timedelta(minutes=self.post_in_minutes)
            impact["next_sponsored_post_at"] = post.isoformat().replace("+00:00", "Z")
        return {"summary": self.summary, "creator": self.creator, "impact": impact}


def _creator(handle: str, tier: str, followers: int, platform: str = "youtube") -> dict[str, Any]:
    return {
        "id": f"cr_{handle.strip('@')}",
        "handle": handle,
        "platform": platform,
        "tier": tier,
        "followers": followers,
    }


CASES: Sequence[DemoCase] = (
    DemoCase(
        "account_compromised",
        13,
        "Partner channel taken over, 2FA changed, sponsored post due tonight",
        _creator("@lunabakes", "partner", 1_840_000),
        {"monetized": True, "linked_accounts_at_risk": 2, "estimated_daily_revenue": 4200},
        post_in_minutes=128,  # resolution capped 2 h before the post: 8 minutes from now
    ),
    DemoCase(
        "content_blocked",
        56,
        "Baking tutorial wrongly blocked for 'dangerous acts'; sponsored cut goes live this evening",
        _creator("@sugarrush", "standard", 310_000),
        {"monetized": True, "estimated_daily_revenue": 900},
        post_in_minutes=366,  # P1 (post within a day); resolution capped 6 h before: 6 minutes away
    ),
    DemoCase(
        "brand_deal_at_risk",
        11,
        "Sponsor's product link rejected by the platform; the sponsored post is due in three hours",
        _creator("@trailmixtv", "standard", 95_000, "tiktok"),
        {"monetized": True},
        post_in_minutes=180,
    ),
    DemoCase(
        "account_locked",
        24,
        "Locked out after a mistaken suspension, sponsored livestream tomorrow",
        _creator("@pixelpaola", "standard", 240_000, "twitch"),
        {"monetized": True},
        post_in_minutes=26 * 60,
    ),
    DemoCase(
        "account_compromised",
        57,
        "Password reset emails the creator did not request; session from an unknown country",
        _creator("@quietknits", "standard", 12_000, "instagram"),
        {"monetized": False, "linked_accounts_at_risk": 0},
    ),
    DemoCase(
        "account_compromised",
        6,
        "Top creator's recovery phone replaced; crypto scam posts appearing",
        _creator("@maxplays", "top", 9_600_000),
        {"monetized": True, "linked_accounts_at_risk": 1, "estimated_daily_revenue": 18_000},
    ),
    DemoCase(
        "impersonation",
        235,
        "Fake accounts using the creator's name are selling 'exclusive' courses",
        _creator("@chef.amara", "top", 2_300_000, "instagram"),
        {"monetized": True},
    ),
    DemoCase(
        "content_blocked",
        233,
        "Strike on a repair tutorial for 'harmful content'; video was earning well",
        _creator("@fixitfelix", "standard", 150_000),
        {"monetized": True, "estimated_daily_revenue": 1500},
    ),
    DemoCase(
        "brand_deal_at_risk",
        7,
        "Partner creator cannot attach the paid-partnership label; post date not set yet",
        _creator("@glowwithnina", "partner", 780_000, "instagram"),
        {"monetized": True},
    ),
    DemoCase(
        "account_locked",
        110,
        "Partner locked out after a false age-verification flag",
        _creator("@oldschoolbeats", "partner", 520_000),
        {"monetized": False},
    ),
    DemoCase(
        "monetization_suspended",
        5,
        "Payouts on hold after an automated 'invalid traffic' review",
        _creator("@spacefacts", "partner", 1_100_000),
        {"monetized": True, "estimated_daily_revenue": 7200},
    ),
    DemoCase(
        "impersonation",
        2,
        "A look-alike account is messaging followers about a giveaway",
        _creator("@tinyhomes", "standard", 40_000, "tiktok"),
        {"monetized": False},
    ),
)


@dataclass(frozen=True)
class DemoResult:
    registered: list[str]
    case_ids: list[str]
    #: None when the demo was loaded already (its key's secret was shown then, and only then).
    key: CreatedKey | None
    already_loaded: int = 0
    #: The id of the demo's agent key when it was created by an earlier run (None: revoked or new).
    existing_key_id: int | None = None
    #: Each new case's creator link token (its status page), as ``POST /v1/cases`` gives it: once.
    creator_tokens: list[str] = field(default_factory=list)


def _agent_key(database_url: str, now: datetime) -> CreatedKey:
    engine = make_engine(database_url)
    try:
        for n in range(1, 1000):
            name = DEMO_KEY if n == 1 else f"{DEMO_KEY}-{n}"
            try:
                with session_scope(engine) as session:
                    return api_keys.create_key(session, name, Role.AGENT, now)
            except ApiKeyNameTaken:
                continue
    finally:
        engine.dispose()
    raise RuntimeError("no free demo-agent key name")  # pragma: no cover


def run_demo(database_url: str, now: datetime | None = None) -> DemoResult:
    """Register the bundled policies (new versions only when changed), open the demo cases at
    ``now`` and create an agent key. The database must be migrated. A database that has the demo
    cases already gets neither more cases nor another key (``already_loaded`` counts them)."""
    now = now or datetime.now(UTC)
    policies = load_policy_dir(get_settings().policies_dir)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            registrations = policy_registry.register_policies(session, list(policies.values()), now)
        registered = [
            f"{r.policy_id} v{r.version}" + ("" if r.registered else " (unchanged)") for r in registrations
        ]
        with session_scope(engine, write=False) as session:
            loaded = cases_opened_by(session, ACTOR)
            keys = [k.id for k in api_keys.list_keys(session) if k.name == DEMO_KEY and k.revoked_at is None]
        if loaded:
            return DemoResult(registered, [], None, loaded, keys[0] if keys else None)
        opened = [_open_demo_case(engine, case, now) for case in CASES]
    finally:
        engine.dispose()
    case_ids, tokens = [case_id for case_id, _ in opened], [token for _, token in opened]
    return DemoResult(registered, case_ids, _agent_key(database_url, now), creator_tokens=tokens)


def _open_demo_case(engine: Engine, case: DemoCase, now: datetime) -> tuple[str, str]:
    """The case's id and its creator link token (issued as ``POST /v1/cases`` issues it)."""
    with session_scope(engine) as session:
        change = open_case(
            session,
            incident_type=case.incident_type,
            attributes=case.attributes(now),
            actor=ACTOR,
            now=now,
            opened_at=now - timedelta(minutes=case.opened_minutes_ago),
        )
        return change.case.id, first_link(session, change.case.id, now)


def print_demo(result: DemoResult, base_url: str) -> None:
    typer.echo("Policies: " + ", ".join(result.registered))
    if result.key is None:
        typer.echo(
            f"The demo is loaded already ({result.already_loaded} cases): no new cases, no new key. "
            f"Its key {DEMO_KEY!r} was printed the first time; for another, run "
            "`lifeline keys create --role agent --name NAME`."
        )
        typer.echo(f"  API docs:   {base_url}/docs")
        return
    typer.echo(f"Opened {len(result.case_ids)} demo cases; their first deadlines fall in the next minutes.")
    typer.echo("")
    typer.echo(f"  API docs:   {base_url}/docs")
    typer.echo(f"  Agent key:  {result.key.secret}   (shown once; name {result.key.name!r})")
    typer.echo(f"  Try:        curl -H 'Authorization: Bearer {result.key.secret}' {base_url}/v1/cases")
    if result.creator_tokens:
        handle = CASES[0].creator["handle"]
        typer.echo(
            f"  Creator:    {base_url}/status/{result.creator_tokens[0]}   "
            f"(what {handle} sees of their case: no sign-in; shown once)"
        )
    typer.echo("")


@app.command()
def demo() -> None:
    """Open a dozen demo creator cases due within minutes, and print an agent key.

    Registers the bundled policies first (a new version only when a file changed). Then run
    `lifeline serve` to watch the cases breach and escalate. Run again, it adds nothing."""
    url = get_settings().database_url
    prepare_database(url)
    result = run_demo(url)
    print_demo(result, get_settings().public_url.rstrip("/"))  # where the links point (LIFELINE_PUBLIC_URL)
    typer.echo("Start the API and the escalation worker with: lifeline serve")
