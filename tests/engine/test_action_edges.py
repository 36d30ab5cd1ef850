"""Agent actions at their edges: what a case refuses at opening and on each action, word for word
and with the field, and what each action leaves behind (reasons, messages, queues, stopped clocks,
priorities pinned to themselves). Written for the mutants the sixth mutation campaign left alive
(tests/README.md): each test fails on at least one of them."""

from __future__ import annotations

import pytest

from policies.model import StageSpec
from sla_engine.agent_actions import InvalidAction
from sla_engine.cases import apply_action, open_case, replay
from sla_engine.kinds import ClockStatus, EventKind, Status
from sla_engine.priority import decide_priority
from tests.engine.builders import (
    ALWAYS_CAL,
    PARTNER_RULE,
    STANDARD,
    T0,
    act,
    at,
    make_policy,
    notify,
    refusal,
    set_priority,
    target,
)


@pytest.mark.parametrize(
    ("when", "status", "text", "field"),
    [
        (T0.replace(tzinfo=None), Status.OPEN, "opened_at must be timezone-aware", "opened_at"),
        (T0, Status.RESOLVED, "a case opens as open or waiting_on_creator, not resolved", "status"),
        (T0, Status.IN_PROGRESS, "a case opens as open or waiting_on_creator, not in_progress", "status"),
    ],
)
def test_a_case_that_cannot_open_is_refused_with_the_message_and_the_field(when, status, text, field):
    assert refusal(lambda: open_case(make_policy(), ALWAYS_CAL, STANDARD, when, "a", status)) == (text, field)


def test_a_status_changes_reason_is_recorded_on_its_first_event_and_nowhere_else():
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    step = apply_action(policy, ALWAYS_CAL, state, act("resolve", at(5), reason="duplicate of #12"))
    first, *rest = step.events
    assert (first.kind, first.data["reason"]) == (EventKind.STATUS_CHANGED, "duplicate of #12")
    assert all("reason" not in e.data for e in rest if e.kind != EventKind.STATUS_CHANGED)
    assert step.state.resolved_at == at(5) and step.state.updated_at == at(5)
    plain = apply_action(policy, ALWAYS_CAL, state, act("resolve", at(5)))
    assert "reason" not in plain.events[0].data


def test_a_message_is_read_only_from_the_creators_reply():
    """An agent's status action carrying a ``message`` argument does not put words in the creator's
    mouth: only creator_replied records them, on the event that resumes the case."""
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    waiting = apply_action(policy, ALWAYS_CAL, state, act("request_info", at(1))).state
    agent = apply_action(policy, ALWAYS_CAL, waiting, act("resolve", at(2), message="not theirs"))
    assert all("message" not in e.data for e in agent.events)
    reply = apply_action(
        policy, ALWAYS_CAL, waiting, act("creator_replied", at(2), "creator", message="here")
    )
    assert reply.events[0].data["message"] == "here" and reply.events[0].kind == EventKind.STATUS_CHANGED
    in_place = apply_action(policy, ALWAYS_CAL, state, act("creator_replied", at(2), "creator", message="hi"))
    assert (in_place.events[0].kind, in_place.events[0].data["message"]) == (EventKind.CREATOR_REPLIED, "hi")
    assert in_place.state.updated_at == at(2)
    with pytest.raises(InvalidAction) as err:
        apply_action(policy, ALWAYS_CAL, waiting, act("creator_replied", at(2), "creator", message=""))
    assert err.value.field == "message"


def test_a_replayed_case_is_opened_by_the_system_unless_someone_is_named():
    policy = make_policy()
    assert replay(policy, ALWAYS_CAL, STANDARD, T0, [], T0).events[0].actor == "system"
    assert (
        replay(policy, ALWAYS_CAL, STANDARD, T0, [], T0, opened_by="agent:bo").events[0].actor == "agent:bo"
    )


def test_pinning_or_unpinning_the_priority_it_already_has_still_leaves_a_trace():
    def request(priority):
        return {"request": {"action": "set_priority", "args": {"priority": priority}}}

    policy = make_policy()
    opened = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a")
    default = opened.state.priority
    pinned = apply_action(policy, ALWAYS_CAL, opened.state, act("set_priority", at(1), priority=default))
    unpinned = apply_action(
        policy, ALWAYS_CAL, pinned.state, act("set_priority", at(2), "agent:bo", priority=None)
    )
    changes = [(e.at, e.actor, e.data) for e in [*pinned.events, *unpinned.events]]
    assert changes == [
        (
            at(1),
            "agent:ana",
            {"from": default, "to": default, "reason": "set by agent:ana", **request(default)},
        ),
        (at(2), "agent:bo", {"from": default, "to": default, "reason": "policy default", **request(None)}),
    ]
    assert (pinned.state.priority_override, unpinned.state.priority_override) == (default, None)


def test_a_message_may_be_five_thousand_characters_and_no_more():
    policy = make_policy()
    waiting = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("request_info", at(1))], at(1)).state
    longest = apply_action(
        policy, ALWAYS_CAL, waiting, act("creator_replied", at(2), "creator", message="m" * 5000)
    )
    assert longest.events[0].data["message"] == "m" * 5000
    too_long = act("creator_replied", at(2), "creator", message="m" * 5001)
    assert refusal(lambda: apply_action(policy, ALWAYS_CAL, waiting, too_long)) == (
        "creator_replied needs a 'message' of 1 to 5000 characters",
        "message",
    )


def test_assigning_a_queue_moves_the_case_into_it():
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    step = apply_action(policy, ALWAYS_CAL, state, act("assign", at(1), queue="overflow", assignee="ana"))
    assert (step.state.queue, step.state.assignee) == ("overflow", "ana")
    assert [(e.kind, e.data) for e in step.events[:2]] == [
        (EventKind.ASSIGNED, {"from": None, "to": "ana", "request": step.events[0].data["request"]}),
        (EventKind.QUEUE_CHANGED, {"from": "creator-support", "to": "overflow"}),
    ]


def test_a_reopened_clock_forgets_when_and_why_it_stopped():
    policy = make_policy()
    resolved = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("resolve", at(30))], at(30)).state
    stopped = resolved.clock("resolution")
    assert (stopped.status, stopped.stopped_at) == (ClockStatus.STOPPED, at(30)) and stopped.stopped_by
    clock = apply_action(policy, ALWAYS_CAL, resolved, act("reopen", at(40))).state.clock("resolution")
    assert (clock.status, clock.stopped_at, clock.stopped_by) == (ClockStatus.RUNNING, None, None)


def test_a_hand_set_priority_says_so_and_an_unknown_clock_is_named():
    assert decide_priority(make_policy(), STANDARD, T0, "P1") == ("P1", "set by hand")
    state = open_case(make_policy(), ALWAYS_CAL, STANDARD, T0, "a").state
    with pytest.raises(KeyError, match="'no_such_clock'"):
        state.clock("no_such_clock")


def test_the_first_stages_actions_run_at_the_opening_with_keys_that_name_it():
    """What the first stage does on entering happens at the opening instant, by the system, under
    dedupe keys of the opening (a retried open cannot page twice), and a priority it sets moves
    the deadlines at once."""
    only = StageSpec("frontline", "creator-support", None, on_enter=(notify("tns-leads"), set_priority("P1")))
    step = open_case(make_policy(stages=(only,)), ALWAYS_CAL, STANDARD, T0, "agent:ana")
    assert [(str(e.kind), e.at, e.actor, e.dedupe_key) for e in step.events[-2:]] == [
        ("notified", T0, "system:escalation", "opened/0:notify:tns-leads"),
        ("priority_changed", T0, "system:escalation", "opened/1:set_priority"),
    ]
    assert step.state.priority == "P1"
    assert step.state.clock("resolution").due_at == at(hours=8)  # P1's target, not P2's day


def test_a_policy_of_single_targets_knows_its_default_and_its_rules_priorities():
    stage = StageSpec("frontline", "creator-support", target("PT2H"))
    policy = make_policy(first_response="PT1H", resolution="P1D", stages=(stage,), rules=[PARTNER_RULE])
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    raised = apply_action(policy, ALWAYS_CAL, state, act("set_priority", at(1), priority=PARTNER_RULE.then))
    assert raised.state.priority == PARTNER_RULE.then
    with pytest.raises(InvalidAction) as err:
        apply_action(policy, ALWAYS_CAL, state, act("set_priority", at(1), priority="P9"))
    known = ", ".join(sorted({policy.priority.default, PARTNER_RULE.then}))
    assert str(err.value) == f"unknown priority 'P9'; this policy knows {known}"
