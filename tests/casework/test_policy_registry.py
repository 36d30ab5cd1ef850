"""Registering policy versions, pinning cases to them, and listing them with their open cases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from casework.cases.lifecycle import apply_action
from casework.errors import AmbiguousPolicy, PolicyNotRegistered
from casework.registry import policy_registry
from models.db import session_scope
from tests.casework.builders import T0, at, open_one, register, versioned
from tests.engine.builders import PARTNER_RULE, make_policy


def test_unchanged_content_registers_nothing_and_a_change_registers_the_next_version(engine: Engine) -> None:
    first, changed = versioned(make_policy()), versioned(make_policy(rules=[PARTNER_RULE]))
    with session_scope(engine) as s:
        [r1] = policy_registry.register_policies(s, [first], T0)
        [r2] = policy_registry.register_policies(s, [first], at(1))
        [r3] = policy_registry.register_policies(s, [changed], at(2))
        [r4] = policy_registry.register_policies(s, [first], at(3))  # a reverted edit
    assert (r1.version, r1.registered, r1.previous_version) == (1, True, None)
    assert (r2.version, r2.registered) == (1, False)
    assert (r3.version, r3.registered, r3.previous_version) == (2, True, 1)
    assert (r4.version, r4.registered, r4.sha256) == (3, True, first.sha256)


def test_list_shows_versions_hashes_and_open_cases_per_version(engine: Engine, session: Session) -> None:
    first = register(engine, make_policy())
    open_one(engine)
    resolved = open_one(engine).case.id
    with session_scope(engine) as s:
        apply_action(s, resolved, "resolve", {}, "agent:bo", at(5))
    second = register(engine, make_policy(rules=[PARTNER_RULE]), now=at(10))
    open_one(engine, now=at(11))
    open_one(engine, now=at(12))

    rows = [
        (v.policy_id, v.version, v.sha256, v.open_cases, v.latest)
        for v in policy_registry.list_versions(session)
    ]
    assert rows == [
        ("test-policy", 1, first.sha256, 1, False),
        ("test-policy", 2, second.sha256, 2, True),
    ]


def test_get_policy_returns_the_pinned_version_not_the_latest(engine: Engine, session: Session) -> None:
    first = register(engine, make_policy())
    register(engine, make_policy(rules=[PARTNER_RULE]), now=at(1))
    policy, calendar = policy_registry.get_policy(session, "test-policy", 1)
    assert policy.sha256 == first.sha256 and policy.priority.rules == ()
    assert calendar.calendar.name == "always"
    with pytest.raises(PolicyNotRegistered, match="version 9"):
        policy_registry.get_policy(session, "test-policy", 9)


def test_an_incident_type_handled_by_two_policies_needs_a_policy_id(engine: Engine, session: Session) -> None:
    register(engine, make_policy())
    register(engine, replace(make_policy(), id="other-policy"))
    with pytest.raises(AmbiguousPolicy, match="other-policy, test-policy"):
        policy_registry.pin_for_new_case(session, incident_type="account_compromised")
    assert policy_registry.pin_for_new_case(session, policy_id="other-policy").version == 1
