"""The SLA semantics help-desk users keep reporting broken elsewhere, one test each (issue 3, point 5)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.model import NotAfter, StageSpec
from sla_engine.agent_actions import InvalidAction
from sla_engine.cases import advance, apply_action, open_case, replay
from sla_engine.deadlines import remaining
from sla_engine.kinds import ClockStatus, EventKind, Status
from sla_engine.state import state_from_dict, state_to_dict
from sla_engine.transitions import ForbiddenTransition
from tests.engine.builders import (
    ALWAYS_CAL,
    PARTNER_RULE,
    STANDARD,
    T0,
    act,
    at,
    duration,
    make_policy,
    notify,
    refusal,
    set_priority,
    target,
)


def kinds_of(events, kind, key="clock"):
    return [(e.at, e.data.get(key)) for e in events if e.kind == kind]


def test_pause_pushes_every_listed_deadline_by_the_paused_time():
    policy = make_policy()
    base = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent").state
    paused = replay(
        policy,
        ALWAYS_CAL,
        STANDARD,
        T0,
        [act("request_info", at(10)), act("creator_replied", at(100))],
        at(100),
    ).state
    base_resolution, base_stage = base.clock("resolution").due_at, base.stage.due_at
    assert base_resolution is not None and base_stage is not None
    # resolution lists waiting_on_creator in pauses_on: pushed by exactly 90 minutes.
    assert paused.clock("resolution").due_at == base_resolution + timedelta(minutes=90)
    # the stage timer pauses with it (same pauses); first_response does not list the status.
    assert paused.stage.due_at == base_stage + timedelta(minutes=90)
    assert paused.clock("first_response").due_at == base.clock("first_response").due_at


def test_paused_clock_has_no_deadline_and_no_pending_timer():
    policy = make_policy()
    state = replay(
        policy, ALWAYS_CAL, STANDARD, T0, [act("acknowledge", at(5)), act("request_info", at(10))], at(10)
    ).state
    resolution = state.clock("resolution")
    assert resolution.status is ClockStatus.PAUSED and resolution.due_at is None
    assert all(ref != "resolution" for _, _, ref in state.pending_timers)


def test_paused_time_survives_a_priority_change():
    policy = make_policy()
    actions = [
        act("request_info", at(hours=1)),
        act("creator_replied", at(hours=3)),
        act("set_priority", at(hours=4), priority="P1"),
    ]
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=4)).state
    # worked 1h + 1h = 2h of the P1 target of 8h: due 6 working hours after the change.
    assert state.clock("resolution").due_at == at(hours=10)
    assert state.priority == "P1" and state.priority_reason.startswith("set by")


def test_priority_change_keeps_elapsed_time_for_the_stage_timer():
    policy = make_policy()
    state = replay(
        policy, ALWAYS_CAL, STANDARD, T0, [act("set_priority", at(20), priority="P1")], at(20)
    ).state
    # frontline escalates after 30 minutes at P1; 20 already elapsed.
    assert state.stage.due_at == at(30)


def test_priority_raised_past_an_elapsed_target_breaches_at_the_change():
    policy = make_policy()
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("set_priority", at(40), priority="P1")], at(40))
    assert kinds_of(step.events, EventKind.BREACHED) == [(at(40), "first_response"), (at(40), None)]


def test_warning_fires_once():
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent").state
    first = advance(policy, ALWAYS_CAL, state, at(50))
    second = advance(policy, ALWAYS_CAL, first.state, at(55))
    assert kinds_of(first.events, EventKind.AT_RISK) == [(at(45), "first_response")]
    assert kinds_of(second.events, EventKind.AT_RISK) == []


def test_breach_fires_once_at_its_deadline_even_when_computed_late():
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "agent").state
    late = advance(policy, ALWAYS_CAL, state, at(days=5))
    # first response once at 10:00; the frontline and security stages (no clock) at 11:00 and 15:00;
    # the last stage raised the case to P1 at 15:00: the 8h P1 target ran out at 17:00, once.
    assert kinds_of(late.events, EventKind.BREACHED) == [
        (at(60), "first_response"),
        (at(hours=2), None),
        (at(hours=6), None),
        (at(hours=8), "resolution"),
    ]
    again = advance(policy, ALWAYS_CAL, late.state, at(days=6))
    assert kinds_of(again.events, EventKind.BREACHED) == []


def test_a_breached_clock_keeps_running_so_lateness_is_measurable():
    policy = make_policy()
    state = advance(policy, ALWAYS_CAL, open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state, at(90)).state
    clock = state.clock("first_response")
    assert clock.breached and clock.status is ClockStatus.RUNNING
    assert remaining(clock, at(90), ALWAYS_CAL) == -timedelta(minutes=30)
    done = apply_action(policy, ALWAYS_CAL, state, act("acknowledge", at(100))).state
    assert done.clock("first_response").meter.elapsed == timedelta(minutes=100)


def test_reopen_resumes_the_resolution_clock_where_it_stopped():
    policy = make_policy()
    actions = [act("acknowledge", at(5)), act("resolve", at(hours=2)), act("reopen", at(hours=10))]
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(hours=10)).state
    resolution = state.clock("resolution")
    assert resolution.status is ClockStatus.RUNNING
    # 2h used of the P2 day: due 22h after the reopen.
    assert resolution.due_at == at(hours=32)
    # first response was met by the acknowledgement and stays met.
    assert state.clock("first_response").status is ClockStatus.STOPPED
    assert state.status is Status.OPEN


def test_manual_escalation_starts_the_new_stage_timer_from_the_escalation():
    policy = make_policy()
    state = replay(
        policy, ALWAYS_CAL, STANDARD, T0, [act("escalate", at(45), reason="creator is a partner")], at(45)
    ).state
    assert state.stage.id == "security" and state.stage.entered_at == at(45)
    assert state.stage.due_at == at(45) + timedelta(hours=4)
    assert state.queue == "security-specialists"


def test_manual_escalation_runs_on_enter_and_records_the_agent():
    policy = make_policy()
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("escalate", at(45), actor="agent:bo")], at(45))
    escalated = [e for e in step.events if e.kind == EventKind.ESCALATED]
    assert escalated[0].actor == "agent:bo" and escalated[0].dedupe_key is None
    assert [e.data["channel"] for e in step.events if e.kind == EventKind.NOTIFIED] == ["security-oncall"]


def test_escalating_past_the_last_stage_is_refused():
    policy = make_policy()
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("escalate", at(1), to_stage="lead")], at(1)).state
    with pytest.raises(InvalidAction, match="last stage"):
        apply_action(policy, ALWAYS_CAL, state, act("escalate", at(2)))


def test_last_stage_repeats_its_notifications_until_the_case_leaves_it():
    policy = make_policy()
    actions = [act("escalate", at(0), to_stage="lead"), act("resolve", at(hours=5))]
    step = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(days=2))
    reminders = [e for e in step.events if e.kind == EventKind.NOTIFIED and e.data.get("repeat")]
    assert [e.at for e in reminders] == [at(hours=2), at(hours=4)]


def test_not_after_pulls_the_resolution_deadline_before_the_sponsored_post():
    policy = make_policy(not_after=NotAfter("impact.next_sponsored_post_at", timedelta(hours=2)))
    post = at(hours=6)
    attrs = {"creator": {"tier": "standard"}, "impact": {"next_sponsored_post_at": post.isoformat()}}
    state = open_case(policy, ALWAYS_CAL, attrs, T0, "a").state
    assert state.clock("resolution").due_at == at(hours=4)


def test_not_after_never_makes_a_deadline_later_than_its_target():
    policy = make_policy(not_after=NotAfter("impact.next_sponsored_post_at", timedelta(hours=2)))
    attrs = {"impact": {"next_sponsored_post_at": at(days=10).isoformat()}}
    state = open_case(policy, ALWAYS_CAL, attrs, T0, "a").state
    assert state.clock("resolution").due_at == at(days=1)


def test_a_resolved_case_has_no_pending_timers():
    policy = make_policy()
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("resolve", at(10))], at(10)).state
    assert state.pending_timers == [] and state.next_deadline_at is None
    assert advance(policy, ALWAYS_CAL, state, at(days=30)).events == []


def test_a_forbidden_transition_names_both_states():
    policy = make_policy()
    state = replay(
        policy, ALWAYS_CAL, STANDARD, T0, [act("resolve", at(10)), act("close", at(20))], at(20)
    ).state
    with pytest.raises(ForbiddenTransition) as err:
        apply_action(policy, ALWAYS_CAL, state, act("reopen", at(30)))
    assert err.value.from_status is Status.CLOSED and err.value.to_status is Status.OPEN
    assert "closed" in str(err.value) and "open" in str(err.value)


def test_priority_rules_apply_at_opening_and_when_attributes_change():
    policy = make_policy(rules=[PARTNER_RULE])
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    assert state.priority == "P2" and state.priority_reason == "policy default"
    step = apply_action(
        policy,
        ALWAYS_CAL,
        state,
        act("update_attributes", at(10), attributes={"creator": {"tier": "partner"}}),
    )
    assert step.state.priority == "P1" and step.state.priority_reason.startswith("rule 1")
    assert step.state.clock("first_response").due_at == at(15)


def test_an_agents_priority_wins_over_the_rules_until_cleared():
    policy = make_policy(rules=[PARTNER_RULE])
    actions = [
        act("set_priority", at(1), priority="P3"),
        act("update_attributes", at(2), attributes={"creator": {"tier": "top"}}),
    ]
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(2)).state
    assert state.priority == "P3"
    cleared = apply_action(policy, ALWAYS_CAL, state, act("set_priority", at(3), priority=None)).state
    assert cleared.priority == "P1"


def test_an_unknown_priority_is_refused_with_the_field():
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    unknown = act("set_priority", at(1), priority="P9")
    assert refusal(lambda: apply_action(policy, ALWAYS_CAL, state, unknown)) == (
        "unknown priority 'P9'; this policy knows P1, P2, P3",
        "priority",
    )


def test_actions_must_come_in_time_order():
    policy = make_policy()
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("acknowledge", at(10))], at(10)).state
    with pytest.raises(InvalidAction) as err:
        apply_action(policy, ALWAYS_CAL, state, act("start", at(5)))
    assert err.value.field == "at"
    assert str(err.value) == (
        "action at 2026-03-02T09:05:00+00:00 is older than the case's last change "
        "(2026-03-02T09:10:00+00:00); actions apply in time order"
    )


def test_stepwise_advancing_gives_the_same_history_as_one_replay():
    policy = make_policy(rules=[PARTNER_RULE])
    actions = [
        act("acknowledge", at(20)),
        act("request_info", at(hours=3)),
        act("creator_replied", at(hours=9)),
        act("resolve", at(hours=30)),
    ]
    whole = replay(policy, ALWAYS_CAL, STANDARD, T0, actions, at(days=3))
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "system")
    events = list(state.events)
    current = state.state
    pending = list(actions)
    for minute in range(0, 3 * 24 * 60 + 1, 7):
        now = at(minute)
        while pending and pending[0].at <= now:
            step = apply_action(policy, ALWAYS_CAL, current, pending.pop(0))
            current, events = step.state, events + list(step.events)
        step = advance(policy, ALWAYS_CAL, current, now)
        current, events = step.state, events + list(step.events)
    step = advance(policy, ALWAYS_CAL, current, at(days=3))
    events += list(step.events)
    assert [(e.kind, e.at, e.dedupe_key) for e in events] == [
        (e.kind, e.at, e.dedupe_key) for e in whole.events
    ]
    assert state_to_dict(step.state) == state_to_dict(whole.state)


def test_state_survives_its_json_form():
    policy = make_policy()
    state = replay(policy, ALWAYS_CAL, STANDARD, T0, [act("request_info", at(10))], at(50)).state
    assert state_from_dict(state_to_dict(state)) == state


def test_only_the_last_stage_repeats_its_notifications():
    from policies.model import StageSpec
    from tests.engine.builders import duration, notify

    chatty_middle = StageSpec(
        "security", "sec", None, on_enter=(notify("security-oncall"),), repeat_notify_every=duration("PT1H")
    )
    policy = make_policy(stages=[StageSpec("frontline", "q"), chatty_middle, StageSpec("lead", "leads")])
    step = replay(
        policy, ALWAYS_CAL, STANDARD, T0, [act("escalate", at(0), to_stage="security")], at(hours=5)
    )
    oncall = [
        e for e in step.events if e.kind == EventKind.NOTIFIED and e.data["channel"] == "security-oncall"
    ]
    assert [(e.at, e.data.get("repeat")) for e in oncall] == [(at(0), None)]


def test_conditions_compare_lists_and_objects_by_value():
    from policies.loader import bundled_policies_dir as policies_dir
    from policies.loader import check_policy_document, load_policy_file
    from sla_engine.conditions import holds

    base = load_policy_file(policies_dir() / "account_compromised.json")
    doc = __import__("json").loads(base.canonical_json)
    doc["priority"]["rules"] = [
        {"if": {"field": "creator.platforms", "op": "eq", "value": ["youtube", "tiktok"]}, "then": "P1"},
        {"if": {"field": "impact", "op": "eq", "value": {"monetized": True}}, "then": "P1"},
    ]
    policy = check_policy_document(doc, "inline").value
    assert policy is not None
    first, second = (r.condition for r in policy.priority.rules)
    assert holds(first, {"creator": {"platforms": ["youtube", "tiktok"]}}, T0)
    assert not holds(first, {"creator": {"platforms": ["tiktok", "youtube"]}}, T0)
    assert holds(second, {"impact": {"monetized": True}}, T0)


def test_an_action_without_a_time_zone_is_refused():
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    with pytest.raises(InvalidAction, match="^the action's instant must be timezone-aware$") as err:
        apply_action(policy, ALWAYS_CAL, state, act("acknowledge", at(1).replace(tzinfo=None)))
    assert err.value.field == "at"


def _breaching_stages(*on_breach):
    """Two stages; the first breaches after 30 minutes, the last (a dead end) after 2 hours."""
    return make_policy(
        stages=(
            StageSpec("frontline", "creator-support", target("PT30M"), on_breach=on_breach),
            StageSpec("lead", "tns-leads", target("PT2H")),
        )
    )


def test_a_stage_breach_that_changes_the_priority_moves_the_deadlines_at_once():
    policy = _breaching_stages(set_priority("P1"))
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state

    step = advance(policy, ALWAYS_CAL, state, at(31))

    assert [(str(e.kind), e.at) for e in step.events[:3]] == [
        ("breached", at(30)),
        ("priority_changed", at(30)),
        ("escalated", at(30)),
    ]
    # P1's 15 minutes have passed already: the clock breaches at the change, not later.
    assert step.state.priority == "P1" and step.state.clock("first_response").breached_at == at(30)


def test_a_breach_of_the_last_stage_is_the_cases_latest_change():
    """No stage to move to, no action: the breach itself moves the case on, so an agent action
    dated before it is out of order."""
    policy = _breaching_stages()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    state = advance(policy, ALWAYS_CAL, state, at(31)).state

    step = advance(policy, ALWAYS_CAL, state, at(200))

    stage_breaches = [
        (e.at, e.data["stage"]) for e in step.events if e.kind == EventKind.BREACHED and "clock" not in e.data
    ]
    assert stage_breaches == [(at(150), "lead")]
    assert step.state.updated_at == at(150)
    with pytest.raises(InvalidAction, match="time order"):
        apply_action(policy, ALWAYS_CAL, step.state, act("note", at(149), text="late"))


def test_a_recorded_warning_leaves_no_warning_instant_behind():
    """The queue view tells "at risk" from "will be at risk at ..." by ``warn_due_at`` being cleared
    once the warning is recorded (casework.queries.queue_rows)."""
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state

    clock = advance(policy, ALWAYS_CAL, state, at(50)).state.clock("first_response")

    assert (clock.warned, clock.warn_due_at, clock.due_at) == (True, None, at(60))


def test_the_first_stage_pages_on_opening_and_repeats_when_it_is_the_only_one():
    """A one-stage policy: its stage is the first (on_enter runs at opening) and the last (it
    repeats its notifications from the opening on)."""
    only = StageSpec(
        "frontline",
        "creator-support",
        None,
        on_enter=(notify("tns-leads"),),
        repeat_notify_every=duration("PT2H"),
    )
    policy = make_policy(stages=(only,))
    step = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a")

    assert [(str(e.kind), e.data) for e in step.events if e.kind == EventKind.NOTIFIED] == [
        (
            "notified",
            {"channel": "tns-leads", "reason": "entered frontline", "priority": "P2", "stage": "frontline"},
        )
    ]
    later = advance(policy, ALWAYS_CAL, step.state, at(hours=5))
    reminders = [(e.at, e.data["repeat"]) for e in later.events if e.data.get("repeat")]
    assert reminders == [(at(hours=2), 1), (at(hours=4), 2)]


def test_a_merge_records_the_surviving_case_the_actor_and_the_action_on_its_status_change():
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    step = apply_action(
        policy, ALWAYS_CAL, state, act("merge_into", at(5), actor="agent:ana", case_id="cs_b")
    )
    change = step.events[0]
    assert (change.kind, change.at, change.actor) == (EventKind.STATUS_CHANGED, at(5), "agent:ana")
    assert (change.data["to"], change.data["action"], change.data["into"]) == ("merged", "merge_into", "cs_b")
    assert all("into" not in e.data for e in step.events[1:])
    assert (step.state.status, step.state.closed_at) == (Status.MERGED, at(5))


@pytest.mark.parametrize("survivor", [None, "", 42])
def test_a_merge_without_a_surviving_case_id_is_refused_with_the_field(survivor):
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    args = {} if survivor is None else {"case_id": survivor}
    merge = act("merge_into", at(5), **args)
    assert refusal(lambda: apply_action(policy, ALWAYS_CAL, state, merge)) == (
        "merge_into needs the surviving case's 'case_id'",
        "case_id",
    )


def test_attribute_patches_merge_as_rfc_7386_and_null_removes_a_key_even_an_absent_one():
    from sla_engine.agent_actions import merge

    base = {"impact": {"note": "x", "views": 3}, "tier": "standard"}
    assert merge(base, {"impact": {"note": None}, "gone": None}) == {
        "impact": {"views": 3},
        "tier": "standard",
    }
    assert base == {"impact": {"note": "x", "views": 3}, "tier": "standard"}  # the input is untouched


@pytest.mark.parametrize("patch", [{}, None, ["tier"]])
def test_an_empty_or_missing_attribute_patch_is_refused_with_the_field(patch):
    state = open_case(make_policy(), ALWAYS_CAL, STANDARD, T0, "a").state
    update = act("update_attributes", at(1), attributes=patch)
    assert refusal(lambda: apply_action(make_policy(), ALWAYS_CAL, state, update)) == (
        "update_attributes needs a non-empty 'attributes' object",
        "attributes",
    )


def test_replies_and_attribute_changes_move_the_cases_updated_at():
    policy = make_policy()
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    replied = apply_action(policy, ALWAYS_CAL, state, act("reply", at(12), message="on it")).state
    assert replied.updated_at == at(12)
    patched = apply_action(
        policy, ALWAYS_CAL, replied, act("update_attributes", at(20), attributes={"note": "vip"})
    ).state
    assert patched.updated_at == at(20) and patched.attributes["note"] == "vip"


def test_a_priority_that_attributes_change_is_set_by_the_agent_who_changed_them():
    policy = make_policy(rules=[PARTNER_RULE])
    state = open_case(policy, ALWAYS_CAL, STANDARD, T0, "a").state
    partner = {"creator": {"tier": "partner"}}
    step = apply_action(
        policy, ALWAYS_CAL, state, act("update_attributes", at(2), actor="agent:bo", attributes=partner)
    )
    changed = [e for e in step.events if e.kind == EventKind.PRIORITY_CHANGED]
    assert [(e.actor, e.at, e.data["to"]) for e in changed] == [("agent:bo", at(2), "P1")]
