"""Policy language v2 in the engine: clocks that start and stop on actions, next-reply and
periodic-update cycles, on_warn, pauses that run out, cases opened waiting on the creator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest

from policies.loader import check_policy_document
from policies.model import Policy
from sla_engine.agent_actions import InvalidAction
from sla_engine.cases import advance, apply_action, open_case, replay
from sla_engine.events import AgentAction, EngineEvent
from sla_engine.kinds import SYSTEM_ACTOR, ActionName, ClockStatus, EventKind, Status
from sla_engine.simulation import timeline_entry
from sla_engine.state import state_from_dict, state_to_dict
from sla_engine.transitions import ForbiddenTransition
from tests.engine.builders import ALWAYS_CAL, STANDARD, T0, act, at, refusal


def policy_with(clocks: Mapping[str, Any], stage: Mapping[str, Any] | None = None) -> Policy:
    """A policy document with ``clocks`` and one stage, through the real loader (schema and lint)."""
    doc = {
        "id": "v2",
        "title": "v2",
        "incident_type": "account_compromised",
        "calendar": "always",
        "priority": {"default": "P2"},
        "clocks": dict(clocks),
        "stages": [dict(stage or {"id": "frontline", "queue": "creator-support"})],
    }
    result = check_policy_document(doc, "v2.json")
    assert result.value is not None, [d.as_line() for d in result.diagnostics]
    return result.value


def timeline(events: Sequence[EngineEvent], *kinds: EventKind) -> list[tuple[datetime, str, Any]]:
    """(at, kind, cycle) of the clocks' events of ``kinds`` (stage events left out)."""
    return [(e.at, str(e.kind), e.data.get("cycle")) for e in events if e.kind in kinds and "clock" in e.data]


# --- 1. clocks that start and stop on actions -----------------------------------------------------

FIRST_RESPONSE = {"target": "PT1H", "stops_on": ["acknowledge", "reply", "request_info"]}


def test_first_response_stops_on_the_first_named_action_whatever_the_status() -> None:
    policy = policy_with({"first_response": FIRST_RESPONSE})
    actions = [act("start", at(5)), act("request_info", at(20)), act("creator_replied", at(40))]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=3))
    clock = step.state.clock("first_response")
    assert clock.status is ClockStatus.STOPPED and clock.stopped_at == at(20)
    assert clock.stopped_by == "request_info" and not clock.breached
    stopped = [e for e in step.events if e.kind is EventKind.CLOCK_STOPPED]
    assert [(e.at, e.data["action"], e.data["status"], e.data["met"]) for e in stopped] == [
        (at(20), "request_info", "waiting_on_creator", True)
    ]


def test_acknowledge_after_asking_for_details_is_recorded_and_stops_the_clock() -> None:
    policy = policy_with({"first_response": {"target": "PT1H", "stops_on": ["acknowledge"]}})
    actions = [act("request_info", at(10)), act("creator_replied", at(30)), act("acknowledge", at(70))]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=2))
    assert step.state.status is Status.IN_PROGRESS  # acknowledging does not move a case in progress
    marker = [e for e in step.events if e.kind is EventKind.ACKNOWLEDGED]
    assert [(e.at, e.data["status"]) for e in marker] == [(at(70), "in_progress")]
    assert marker[0].data["request"] == {"action": "acknowledge", "args": {}}
    clock = step.state.clock("first_response")
    assert clock.stopped_at == at(70) and clock.breached_at == at(60)


def test_acknowledge_is_still_refused_twice_and_after_resolution() -> None:
    policy = policy_with({"first_response": FIRST_RESPONSE})
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("acknowledge", at(1))], at(1)).state
    with pytest.raises(ForbiddenTransition, match="cannot acknowledge a case that is acknowledged"):
        apply_action(policy, ALWAYS_CAL, state, act("acknowledge", at(2)))


def test_a_clock_with_starts_on_waits_pending_until_its_action() -> None:
    clocks = {"resolution": {"target": "PT2H", "starts_on": ["acknowledge"], "stops_on": ["resolved"]}}
    policy = policy_with(clocks)
    opened = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent:ana").state
    assert opened.clock("resolution").status is ClockStatus.PENDING and opened.next_deadline_at is None
    step = apply_action(policy, ALWAYS_CAL, opened, act("acknowledge", at(30)))
    assert step.state.clock("resolution").due_at == at(150)
    started = [e for e in step.events if e.kind is EventKind.CLOCK_STARTED]
    assert [(e.at, e.actor, e.data) for e in started] == [
        (at(30), "agent:ana", {"clock": "resolution", "on": "acknowledge"})
    ]
    # a start that is not a cycle's says no cycle in the timeline (simulations, the console)
    assert timeline_entry(started[0])["detail"] == "resolution started on acknowledge"


def test_a_pending_clock_never_breaches_and_stays_pending_after_resolve() -> None:
    policy = policy_with({"resolution": {"target": "PT2H", "starts_on": ["start"]}})
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("resolve", at(10))], at(days=3))
    assert step.state.clock("resolution").status is ClockStatus.PENDING
    assert not [e for e in step.events if e.kind is EventKind.BREACHED]


def test_an_action_in_pauses_on_pauses_until_the_next_status_change() -> None:
    policy = policy_with({"resolution": {"target": "PT2H", "pauses_on": ["note"]}})
    actions = [act("note", at(30), text="checking with legal"), act("start", at(90))]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(90))
    paused = [
        (e.at, str(e.kind), e.data.get("action"))
        for e in step.events
        if e.kind in (EventKind.PAUSED, EventKind.RESUMED) and "clock" in e.data
    ]
    assert paused == [(at(30), "paused", "note"), (at(90), "resumed", None)]
    assert step.state.clock("resolution").due_at == at(180)


def test_old_status_triggers_behave_as_before() -> None:
    policy = policy_with({"first_response": {"target": "PT1H", "stops_on": ["acknowledged"]}})
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("acknowledge", at(10))], at(10))
    stopped = [e.data for e in step.events if e.kind is EventKind.CLOCK_STOPPED]
    assert stopped == [{"clock": "first_response", "status": "acknowledged", "elapsed": 600.0, "met": True}]
    assert step.state.clock("first_response").stopped_by == "acknowledged"
    assert "cycle" not in state_to_dict(step.state)["clocks"][0]


# --- reply ---------------------------------------------------------------------------------------


def test_reply_records_the_public_message_without_changing_status() -> None:
    policy = policy_with({"first_response": FIRST_RESPONSE})
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent:ana").state
    step = apply_action(policy, ALWAYS_CAL, state, act("reply", at(12), message="We are on it."))
    assert step.state.status is Status.OPEN
    assert step.events[0].kind is EventKind.REPLIED and step.events[0].data["message"] == "We are on it."
    assert step.state.clock("first_response").stopped_at == at(12)


@pytest.mark.parametrize("message", [None, "", "   ", "x" * 5001, 42])
def test_reply_needs_a_message_of_1_to_5000_characters(message: object) -> None:
    policy = policy_with({"first_response": FIRST_RESPONSE})
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent:ana").state
    args: dict[str, Any] = {} if message is None else {"message": message}
    with pytest.raises(InvalidAction) as err:
        apply_action(policy, ALWAYS_CAL, state, AgentAction(ActionName.REPLY, at(1), "agent:ana", args))
    assert err.value.field == "message"


def test_reply_is_refused_on_a_closed_case() -> None:
    policy = policy_with({"first_response": FIRST_RESPONSE})
    actions = [act("resolve", at(1)), act("close", at(2))]
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(2)).state
    with pytest.raises(ForbiddenTransition):
        apply_action(policy, ALWAYS_CAL, state, act("reply", at(3), message="hello?"))


# --- 2. next_reply and periodic_update ------------------------------------------------------------


def test_next_reply_measures_each_cycle_from_creator_message_to_agent_reply() -> None:
    policy = policy_with({"next_reply": {"kind": "next_reply", "target": "PT1H"}})
    actions = [
        act("reply", at(30), message="first answer"),  # cycle 1: 30 min, met
        act("creator_replied", at(hours=2), actor="creator", message="still broken"),  # cycle 2
        act("creator_replied", at(hours=2, minutes=20), actor="creator"),  # no new cycle while one runs
        act("reply", at(hours=3, minutes=30), message="fixed"),  # 90 min: breached at 3:00
    ]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=10))
    kinds = (EventKind.CLOCK_STARTED, EventKind.CLOCK_STOPPED, EventKind.BREACHED)
    assert timeline(step.events, *kinds) == [
        (at(30), "clock_stopped", 1),
        (at(hours=2), "clock_started", 2),
        (at(hours=3), "breached", 2),
        (at(hours=3, minutes=30), "clock_stopped", 2),
    ]
    stops = [(e.data["elapsed"], e.data["met"]) for e in step.events if e.kind is EventKind.CLOCK_STOPPED]
    assert stops == [(1800.0, True), (5400.0, False)]
    breach = next(e for e in step.events if e.kind is EventKind.BREACHED)
    assert breach.dedupe_key == "breached:clock:next_reply:2" and breach.actor == SYSTEM_ACTOR
    clock = step.state.clock("next_reply")
    assert (clock.status, clock.cycle, clock.missed, clock.due_at) == (ClockStatus.PENDING, 2, 1, None)


def test_next_reply_ended_by_resolve_resumes_on_reopen() -> None:
    policy = policy_with({"next_reply": {"kind": "next_reply", "target": "PT1H"}})
    actions = [act("resolve", at(20)), act("reopen", at(hours=5))]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=5))
    assert step.state.clock("next_reply").due_at == at(hours=5, minutes=40)


def test_a_case_opened_waiting_on_the_creator_owes_no_reply_until_the_creator_writes() -> None:
    policy = policy_with({"next_reply": {"kind": "next_reply", "target": "PT1H"}})
    opened = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent:ana", Status.WAITING_ON_CREATOR)
    assert opened.state.clock("next_reply").status is ClockStatus.PENDING
    assert opened.events[0].data["status"] == "waiting_on_creator"
    step = apply_action(
        policy, ALWAYS_CAL, opened.state, act("creator_replied", at(hours=4), actor="creator")
    )
    assert step.state.status is Status.IN_PROGRESS
    assert step.state.clock("next_reply").due_at == at(hours=5)


def test_periodic_update_is_due_every_target_and_each_update_restarts_it() -> None:
    policy = policy_with({"updates": {"kind": "periodic_update", "target": "PT4H"}})
    actions = [act("reply", at(hours=3), message="update 1"), act("resolve", at(hours=12))]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=20))
    kinds = (EventKind.CLOCK_STARTED, EventKind.CLOCK_STOPPED, EventKind.BREACHED)
    assert timeline(step.events, *kinds) == [
        (at(hours=3), "clock_stopped", 1),
        (at(hours=3), "clock_started", 2),
        (at(hours=7), "breached", 2),
        (at(hours=12), "clock_stopped", 2),
    ]
    assert step.state.clock("updates").status is ClockStatus.STOPPED


def test_periodic_update_pauses_while_waiting_on_the_creator() -> None:
    clocks = {"updates": {"kind": "periodic_update", "target": "PT4H", "pauses_on": ["waiting_on_creator"]}}
    policy = policy_with(clocks)
    actions = [act("request_info", at(hours=1)), act("creator_replied", at(hours=6))]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=6))
    # request_info is an update (a default stop): cycle 2 starts at 1h, paused until 6h -> due 10h.
    assert step.state.clock("updates").cycle == 2
    assert step.state.clock("updates").due_at == at(hours=10)


def test_cycle_state_round_trips_through_json() -> None:
    policy = policy_with({"next_reply": {"kind": "next_reply", "target": "PT1H", "warn_at": 0.5}})
    actions = [act("reply", at(10), message="a"), act("creator_replied", at(20), actor="creator")]
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=3)).state
    assert state_from_dict(state_to_dict(state)) == state
    assert state_to_dict(state)["clocks"][0]["cycle"] == 2


# --- 3. on_warn ----------------------------------------------------------------------------------


def test_on_warn_notifies_at_warn_at_once_per_cycle() -> None:
    clock = {"kind": "next_reply", "target": "PT1H", "warn_at": 0.75, "on_warn": [{"notify": "team-lead"}]}
    policy = policy_with({"next_reply": clock})
    actions = [act("reply", at(50), message="a"), act("creator_replied", at(60), actor="creator")]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=3))
    notes = [
        (e.at, e.data["channel"], e.data["reason"], e.dedupe_key)
        for e in step.events
        if e.kind is EventKind.NOTIFIED
    ]
    assert notes == [
        (at(45), "team-lead", "next_reply at risk", "at_risk:clock:next_reply:1/0:notify:team-lead"),
        (at(105), "team-lead", "next_reply at risk", "at_risk:clock:next_reply:2/0:notify:team-lead"),
    ]


def test_on_warn_runs_before_the_breach_on_an_elapsed_clock() -> None:
    clock = {"target": "PT1H", "warn_at": 0.5, "on_warn": [{"notify": "team-lead"}, {"set_priority": "P1"}]}
    policy = policy_with({"resolution": clock})
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, [], at(hours=2))
    kinds = [(e.at, str(e.kind)) for e in step.events if e.kind is not EventKind.OPENED]
    assert kinds[:3] == [(at(30), "at_risk"), (at(30), "notified"), (at(30), "priority_changed")]


# --- 4. pauses that run out, and opening waiting ------------------------------------------------


def test_request_info_until_resumes_the_case_by_itself_exactly_once() -> None:
    policy = policy_with({"resolution": {"target": "PT4H", "pauses_on": ["waiting_on_creator"]}})
    until = at(hours=3).isoformat()
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("request_info", at(60), until=until)], at(60)).state
    assert state.pause_until == at(hours=3) and state.next_deadline_at == at(hours=3)
    first = advance(policy, ALWAYS_CAL, state, at(hours=3, minutes=30))
    assert first.events[0].kind is EventKind.PAUSE_EXPIRED and first.events[0].at == at(hours=3)
    assert first.events[0].dedupe_key == f"pause_expired:{until}"
    assert [str(e.kind) for e in first.events] == ["pause_expired", "status_changed", "resumed", "resumed"]
    assert all(e.dedupe_key and e.actor == SYSTEM_ACTOR for e in first.events)
    assert first.state.status is Status.IN_PROGRESS and first.state.pause_until is None
    # 1h ran before the pause, 2h paused: due 3h + 3h.
    assert first.state.clock("resolution").due_at == at(hours=6)
    assert advance(policy, ALWAYS_CAL, first.state, at(hours=3, minutes=30)).events == []


def test_a_creator_answer_before_until_cancels_the_timer() -> None:
    policy = policy_with({"resolution": {"target": "PT4H", "pauses_on": ["waiting_on_creator"]}})
    actions = [act("request_info", at(60), until=at(hours=3).isoformat()), act("creator_replied", at(90))]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(days=1))
    assert not [e for e in step.events if e.kind is EventKind.PAUSE_EXPIRED]
    assert step.state.pause_until is None


@pytest.mark.parametrize(
    "until", ["tomorrow", "2026-03-02T10:00:00", "2026-03-02T09:30:00Z", "2028-03-02T09:30:00Z", 5]
)
def test_request_info_refuses_a_bad_until(until: object) -> None:
    policy = policy_with({"resolution": {"target": "PT4H"}})
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent:ana").state
    with pytest.raises(InvalidAction) as err:
        apply_action(policy, ALWAYS_CAL, state, act("request_info", at(60), until=until))
    assert err.value.field == "until"


def test_request_info_until_may_be_a_year_and_a_day_ahead_but_not_the_request_itself() -> None:
    """The window is (request, request + 366 days]: both edges, so neither comparison can slip."""
    policy = policy_with({"resolution": {"target": "PT4H"}})
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent:ana").state
    latest = at(60) + timedelta(days=366)
    step = apply_action(policy, ALWAYS_CAL, state, act("request_info", at(60), until=latest.isoformat()))
    assert step.state.pause_until == latest and step.events[0].data["until"] == latest.isoformat()
    text = "until must be after the request (2026-03-02T10:00:00+00:00) and within 366 days"
    for until in (at(60), latest + timedelta(seconds=1)):
        request = act("request_info", at(60), until=until.isoformat())
        assert refusal(partial(apply_action, policy, ALWAYS_CAL, state, request)) == (text, "until")


def test_a_case_opened_waiting_pauses_its_pausing_clocks_and_stage_from_the_start() -> None:
    policy = policy_with(
        {"resolution": {"target": "PT4H", "pauses_on": ["waiting_on_creator"]}, "first": {"target": "PT1H"}},
        {"id": "frontline", "queue": "creator-support", "escalate_after": "PT2H"},
    )
    step = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent:ana", Status.WAITING_ON_CREATOR)
    assert [str(e.kind) for e in step.events] == ["opened", "paused", "paused"]
    assert step.state.clock("resolution").status is ClockStatus.PAUSED
    assert step.state.clock("first").due_at == at(60)
    assert step.state.stage.status is ClockStatus.PAUSED


def test_a_case_cannot_open_resolved() -> None:
    policy = policy_with({"resolution": {"target": "PT4H"}})
    with pytest.raises(InvalidAction):
        open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent:ana", Status.RESOLVED)
