"""A policy's ``assign_queue`` action: the case moves queue with an event that says from where, to
where and why, once (an action naming the queue the case is already in writes nothing)."""

from __future__ import annotations

from dataclasses import replace

from policies.model import ActionKind, PolicyAction
from sla_engine import cases
from sla_engine.kinds import SYSTEM_ACTOR, EventKind
from tests.engine.builders import ALWAYS_CAL, T0, at, make_policy, notify

OVERFLOW = PolicyAction(ActionKind.ASSIGN_QUEUE, "overflow")
SAME_QUEUE = PolicyAction(ActionKind.ASSIGN_QUEUE, "creator-support")


def _breach_moves_to(*actions: PolicyAction):
    base = make_policy()
    first, *rest = base.clocks
    return replace(base, clocks=(replace(first, on_breach=(notify("support-leads"), *actions)), *rest))


def test_a_breach_moves_the_case_to_the_queue_the_policy_names() -> None:
    policy = _breach_moves_to(OVERFLOW)
    state = cases.open_case(policy, ALWAYS_CAL, {}, T0, "agent:ana").state

    step = cases.advance(policy, ALWAYS_CAL, state, at(61))

    moved = [e for e in step.events if e.kind is EventKind.QUEUE_CHANGED]
    assert [(e.at, e.actor, e.data, e.dedupe_key) for e in moved] == [
        (
            at(60),
            SYSTEM_ACTOR,
            {"from": "creator-support", "to": "overflow", "reason": "first_response breached"},
            "breached:clock:first_response/1:assign_queue",
        )
    ]
    assert (step.state.queue, step.state.updated_at) == ("overflow", at(60))  # the breach, not the sweep


def test_moving_to_the_queue_the_case_is_in_writes_nothing() -> None:
    policy = _breach_moves_to(SAME_QUEUE)
    state = cases.open_case(policy, ALWAYS_CAL, {}, T0, "agent:ana").state

    step = cases.advance(policy, ALWAYS_CAL, state, at(61))

    assert not [e for e in step.events if e.kind is EventKind.QUEUE_CHANGED]
    assert step.state.queue == "creator-support"
