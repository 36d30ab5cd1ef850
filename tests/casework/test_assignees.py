"""casework.cases.assignees on a real database: which queues the registered policies name (every
version, stage queues and ``assign_queue`` actions), and that the check is the service's only: a
history assigning a since-revoked agent still verifies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from casework import api_keys
from casework.audit.verify import verify
from casework.cases import assignees
from casework.cases.lifecycle import apply_action
from casework.errors import UnknownAgent
from models.db import session_scope
from models.kinds import Role
from policies.model import ActionKind, Policy, PolicyAction, StageSpec
from tests.casework.builders import T0, open_one, register
from tests.engine.builders import make_policy, notify, target


def _policy_moving_breaches_to(queue: str) -> Policy:
    stages = (
        StageSpec(
            "frontline",
            "creator-support",
            target("PT30M"),
            on_breach=(notify("support-leads"), PolicyAction(ActionKind.ASSIGN_QUEUE, queue)),
        ),
        StageSpec("lead", "tns-leads", None),
    )
    return make_policy(stages=stages)


def test_known_queues_are_every_versions_stage_and_assign_queue_targets(engine: Engine) -> None:
    register(
        engine, now=T0 - timedelta(days=2)
    )  # version 1: creator-support, security-specialists, tns-leads
    register(engine, _policy_moving_breaches_to("overflow"), now=T0 - timedelta(days=1))

    with session_scope(engine, write=False) as session:
        known = {q.name: q.policies for q in assignees.known_queues(session)}

    assert sorted(known) == ["creator-support", "overflow", "security-specialists", "tns-leads"]
    assert known["security-specialists"] == ("test-policy",)  # only version 1 names it: still known


def test_a_revoked_agents_assignment_still_verifies_but_takes_no_new_case(engine: Engine) -> None:
    register(engine, now=T0 - timedelta(days=1))
    case_id = open_one(engine).case.id
    with session_scope(engine) as session:
        api_keys.create_key(session, "ana", Role.AGENT, T0)
        api_keys.create_key(session, "boss", Role.ADMIN, T0)
        apply_action(session, case_id, "assign", {"assignee": "ana"}, "agent:ana", T0)
        api_keys.revoke_key(session, "ana", T0 + timedelta(minutes=1))

    with session_scope(engine) as session, pytest.raises(UnknownAgent) as refused:
        apply_action(session, case_id, "assign", {"assignee": "me"}, "agent:ana", T0 + timedelta(minutes=2))
    with session_scope(engine, write=False) as session:
        report = verify(session, T0 + timedelta(minutes=3))

    assert (refused.value.name, refused.value.known) == ("ana", [])  # admins are not agents
    assert report.clean and report.cases == 1
