"""A registered version is rebuilt from its stored document, in a process that never saw the file."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from casework.cases.escalations import apply_due_timers, claim_due_cases
from casework.cases.lifecycle import open_case
from casework.history.hashchain import verify_chain
from casework.registry import policy_registry
from models.db import session_scope
from policies.loader import load_policy_dir, parse_policy_text
from tests.casework.builders import CREATOR, T0, at, policy_document


def test_stored_document_parses_back_to_the_registered_policy(engine: Engine, session: Session) -> None:
    policy = parse_policy_text(json.dumps(policy_document(), indent=2), "account_compromised.json")
    with session_scope(engine) as s:
        policy_registry.register_policies(s, [policy], T0)
    policy_registry.clear_cache()  # as a fresh worker process would start

    parsed, calendar = policy_registry.get_policy(session, "account-compromised", 1)
    assert parsed == policy
    assert calendar.calendar.name == "always"
    with session_scope(engine) as s:
        case = open_case(s, incident_type="account_compromised", attributes=CREATOR, actor="a", now=T0).case
    assert case.priority == "P1" and case.next_deadline_at == at(11.25)


def test_every_bundled_policy_opens_and_escalates_cases(engine: Engine, session: Session) -> None:
    bundled = load_policy_dir()
    with session_scope(engine) as s:
        policy_registry.register_policies(s, list(bundled.values()), T0)
    policy_registry.clear_cache()
    with session_scope(engine) as s:
        for policy in bundled.values():
            open_case(s, policy_id=policy.id, attributes=CREATOR, actor="agent:ana", now=T0)
    with session_scope(engine) as s:
        changes = apply_due_timers(s, claim_due_cases(s, at(hours=72), limit=100), at(hours=72))
    assert len(changes) == len(bundled)
    assert all(change.breaches for change in changes)
    assert verify_chain(session) == []


def test_preload_parses_every_version_and_reports_one_it_cannot_parse(
    engine: Engine, session: Session, tmp_path: Path
) -> None:
    """A worker preloads at start; a version whose calendar has gone is reported, never fatal."""
    bundled = load_policy_dir()
    with session_scope(engine) as s:
        policy_registry.register_policies(s, list(bundled.values()), T0)
    policy_registry.clear_cache()
    assert policy_registry.preload(session) == []

    policy_registry.clear_cache()
    (tmp_path / "calendars").mkdir()  # a policies dir whose calendars folder lacks it-business
    problems = policy_registry.preload(session, tmp_path)
    on_business_hours = sorted(p.id for p in bundled.values() if p.calendar == "it-business")
    assert on_business_hours and len(problems) == len(on_business_hours)
    for policy_id, problem in zip(on_business_hours, sorted(problems), strict=True):
        assert problem.startswith(f"policy {policy_id} v1: ") and "it-business" in problem
    policy_registry.clear_cache()
