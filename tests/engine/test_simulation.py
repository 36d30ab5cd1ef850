"""Simulation input parsing and timeline shape (the CLI and the API share these)."""

from __future__ import annotations

import time

import pytest

from sla_engine.kinds import ActionName, Status
from sla_engine.simulation import (
    SimulationInputError,
    opening_status,
    parse_actions,
    parse_case,
    simulate,
    timeline_entry,
)
from tests.engine.builders import ALWAYS_CAL, T0, at, make_policy


def test_open_ended_simulation_stops_when_no_timer_is_pending():
    policy = make_policy()
    actions = parse_actions(
        [
            {"at": at(10).isoformat(), "action": "acknowledge"},
            {"at": at(hours=1).isoformat(), "action": "resolve"},
        ]
    )
    run = simulate(policy, ALWAYS_CAL, T0, {}, actions)
    assert run.state.next_deadline_at is None
    assert run.until == at(hours=1)
    kinds = [e["kind"] for e in map(timeline_entry, run.events)]
    assert kinds[0] == "opened" and "breached" not in kinds


def test_a_repeating_last_stage_runs_to_the_ninety_day_horizon():
    policy = make_policy()
    run = simulate(policy, ALWAYS_CAL, T0, {}, [])
    assert run.until == at(days=90)
    reminders = [e for e in run.events if e.data.get("repeat")]
    assert reminders[-1].at <= at(days=90) and len(reminders) > 1000


def test_timeline_entries_name_their_clock_or_stage():
    policy = make_policy()
    run = simulate(policy, ALWAYS_CAL, T0, {}, [], until=at(hours=1))
    entries = [timeline_entry(e) for e in run.events]
    breach = next(e for e in entries if e["kind"] == "breached")
    assert breach == {
        "at": at(hours=1).isoformat(),
        "kind": "breached",
        "clock": "first_response",
        "detail": "first_response breached at its deadline (target 1h00m), priority P2",
        "actor": "system:escalation",
    }


@pytest.mark.parametrize(
    ("raw", "pointer", "message"),
    [
        ({"attributes": {}}, "/opened_at", "required"),
        ({"opened_at": "2026-03-02T09:00:00"}, "/opened_at", "has no UTC offset"),
        ({"opened_at": "yesterday"}, "/opened_at", "is not an ISO 8601 date-time"),
        ({"opened_at": "2026-03-02T09:00:00Z", "attributes": []}, "/attributes", "expected an object"),
        ({"opened_at": "2026-03-02T09:00:00Z", "creator": {}}, "/creator", "unknown field"),
    ],
)
def test_bad_case_input_names_the_pointer(raw, pointer, message):
    with pytest.raises(SimulationInputError) as err:
        parse_case(raw)
    assert err.value.pointer == pointer and message in err.value.message


@pytest.mark.parametrize(
    ("raw", "pointer", "message"),
    [
        ({"actions": []}, "", "JSON array"),
        ([{"at": "2026-03-02T09:00:00Z"}], "/0/action", "required"),
        ([{"at": "2026-03-02T09:00:00Z", "action": "fly"}], "/0/action", "unknown action 'fly'"),
        ([{"action": "start"}], "/0/at", "required"),
        (
            [
                {"at": "2026-03-02T10:00:00Z", "action": "acknowledge"},
                {"at": "2026-03-02T09:00:00Z", "action": "start"},
            ],
            "/1/at",
            "time order",
        ),
    ],
)
def test_bad_actions_input_names_the_pointer(raw, pointer, message):
    with pytest.raises(SimulationInputError) as err:
        parse_actions(raw)
    assert err.value.pointer == pointer and message in err.value.message
    assert str(err.value) == f"{pointer or '/'}: {err.value.message}"  # what the CLI prints


OPENED = "2026-03-02T09:00:00Z"


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ([], "/: a case is an object with opened_at and attributes"),
        ({"opened_at": OPENED, "color": 1}, "/color: unknown field (expected opened_at, attributes, status)"),
        ({"attributes": {}}, "/opened_at: required"),
        ({"opened_at": 1772442000}, "/opened_at: expected an ISO 8601 date-time string"),
        ({"opened_at": OPENED, "attributes": []}, "/attributes: expected an object"),
        (
            {"opened_at": OPENED, "status": "closed"},
            "/status: a case opens as one of open, waiting_on_creator, not 'closed'",
        ),
    ],
)
def test_every_bad_case_input_says_exactly_what_and_where(raw, where):
    """What `lifeline policies simulate` and the console's simulate form print, word for word."""
    with pytest.raises(SimulationInputError) as err:
        parse_case(raw)
    assert str(err.value) == where


def test_a_case_may_open_waiting_on_the_creator_and_opens_open_by_default():
    assert opening_status({"opened_at": OPENED, "status": "waiting_on_creator"}) is Status.WAITING_ON_CREATOR
    assert opening_status({"opened_at": OPENED}) is Status.OPEN
    assert parse_case({"opened_at": OPENED, "status": "waiting_on_creator"})[0] == T0


def test_every_bad_action_input_says_exactly_what_and_where():
    names = ", ".join(a.value for a in ActionName)
    cases = [
        ({"actions": []}, "/: actions are a JSON array"),
        (["start"], "/0: an action is an object with at and action"),
        ([{"at": OPENED, "action": "fly"}], f"/0/action: unknown action 'fly'; one of {names}"),
        ([{"at": 5, "action": "start"}], "/0/at: expected an ISO 8601 date-time string"),
    ]
    for raw, where in cases:
        with pytest.raises(SimulationInputError) as err:
            parse_actions(raw)
        assert str(err.value) == where


def test_a_forbidden_action_in_a_simulation_names_the_action_and_states():
    policy = make_policy()
    actions = parse_actions([{"at": at(5).isoformat(), "action": "close"}])
    with pytest.raises(SimulationInputError) as err:
        simulate(policy, ALWAYS_CAL, T0, {}, actions)
    assert err.value.pointer == "/0/action" and "open" in err.value.message and "closed" in err.value.message


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ({"action": "assign"}, "/0/assignee: assign needs an 'assignee' (or null to unassign) or a 'queue'"),
        ({"action": "assign", "assignee": 5}, "/0/assignee: assignee must be a string or null"),
        ({"action": "note", "text": ""}, "/0/text: note needs a non-empty 'text'"),
        (
            {"action": "request_info", "until": "tomorrow"},
            "/0/until: until must be an ISO 8601 date-time with an offset (...T09:00:00Z)",
        ),
        (
            {"action": "set_priority"},
            "/0/priority: set_priority needs 'priority' (a priority such as P1, or null to clear)",
        ),
        (
            {"action": "escalate", "to_stage": "nowhere"},
            "/0/to_stage: unknown stage 'nowhere'; stages: frontline, security, lead",
        ),
        (
            {"action": "escalate", "to_stage": "frontline"},
            "/0/to_stage: stage 'frontline' is not after the current stage 'frontline'",
        ),
        ({"action": "assign", "queue": ""}, "/0/queue: queue must be a non-empty string"),
        (
            {"action": "assign", "assignee": "agent:bo", "queue": 7},
            "/0/queue: queue must be a non-empty string",
        ),
        (
            {"action": "update_attributes"},
            "/0/attributes: update_attributes needs a non-empty 'attributes' object",
        ),
    ],
)
def test_an_invalid_action_in_a_simulation_names_the_argument_at_fault(action, message):
    actions = parse_actions([{"at": at(5).isoformat(), **action}])
    with pytest.raises(SimulationInputError) as err:
        simulate(make_policy(), ALWAYS_CAL, T0, {}, actions)
    assert str(err.value) == message


def test_setting_the_priority_a_case_already_has_leaves_a_trace():
    actions = parse_actions([{"at": at(5).isoformat(), "action": "set_priority", "priority": "P2"}])
    run = simulate(make_policy(), ALWAYS_CAL, T0, {}, actions, until=at(6))
    assert [timeline_entry(e)["detail"] for e in run.events[1:]] == ["P2 -> P2 (set by agent:simulated)"]


def test_waiting_on_the_creator_until_an_instant_records_it_on_the_status_change():
    actions = parse_actions(
        [{"at": at(5).isoformat(), "action": "request_info", "until": at(60).isoformat()}]
    )
    run = simulate(make_policy(), ALWAYS_CAL, T0, {}, actions, until=at(10))
    change = run.events[1]
    assert (str(change.kind), change.data["until"]) == ("status_changed", at(60).isoformat())
    assert timeline_entry(change)["detail"] == "open -> waiting_on_creator (request_info)"
    assert run.state.pause_until == at(60)


def test_a_reopened_case_is_no_longer_resolved():
    actions = parse_actions(
        [
            {"at": at(5).isoformat(), "action": "resolve"},
            {"at": at(6).isoformat(), "action": "reopen"},
        ]
    )
    resolved = simulate(make_policy(), ALWAYS_CAL, T0, {}, actions[:1], until=at(7))
    reopened = simulate(make_policy(), ALWAYS_CAL, T0, {}, actions, until=at(7))
    assert (resolved.state.resolved_at, reopened.state.resolved_at) == (at(5), None)


def test_a_merged_case_is_closed_at_the_merge():
    actions = parse_actions([{"at": at(5).isoformat(), "action": "merge_into", "case_id": "cs_other"}])
    run = simulate(make_policy(), ALWAYS_CAL, T0, {}, actions)
    assert (run.state.status, run.state.closed_at) == (Status.MERGED, at(5))


def test_a_case_opened_waiting_on_the_creator_says_so_in_its_timeline():
    waiting = simulate(make_policy(), ALWAYS_CAL, T0, {}, [], until=at(1), status=Status.WAITING_ON_CREATOR)
    opened = simulate(make_policy(), ALWAYS_CAL, T0, {}, [], until=at(1))
    assert [timeline_entry(run.events[0])["detail"] for run in (waiting, opened)] == [
        "opened as P2 (policy default) in frontline, queue creator-support, waiting_on_creator",
        "opened as P2 (policy default) in frontline, queue creator-support",
    ]


def test_timeline_instants_are_utc_whatever_the_hosts_time_zone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        run = simulate(make_policy(), ALWAYS_CAL, T0, {}, [], until=at(1))
        assert timeline_entry(run.events[0])["at"] == "2026-03-02T09:00:00+00:00"
    finally:
        monkeypatch.undo()
        time.tzset()


WORKED = [
    {"at": at(5).isoformat(), "action": "acknowledge"},
    {"at": at(10).isoformat(), "action": "assign", "assignee": "ana"},
    {"at": at(12).isoformat(), "action": "reply", "message": "we are on it"},
    {"at": at(15).isoformat(), "action": "request_info", "until": at(45).isoformat()},
    {"at": at(60).isoformat(), "action": "request_info"},
    {"at": at(70).isoformat(), "action": "creator_replied", "message": "here"},
    {"at": at(80).isoformat(), "action": "assign", "assignee": None},
    {"at": at(90).isoformat(), "action": "escalate"},
]
WORKED_TIMELINE = [
    ("opened", "opened as P2 (policy default) in frontline, queue creator-support"),
    ("status_changed", "open -> acknowledged (acknowledge)"),
    ("clock_stopped", "first_response stopped on acknowledged after 5m (met)"),
    ("assigned", "assigned to ana (was nobody)"),
    ("replied", "public reply: we are on it"),
    ("status_changed", "acknowledged -> waiting_on_creator (request_info)"),
    ("paused", "resolution paused (waiting_on_creator)"),
    ("paused", "frontline paused (waiting_on_creator)"),
    ("pause_expired", "waiting on the creator ran out at 2026-03-02T09:45:00+00:00"),
    ("status_changed", "waiting_on_creator -> in_progress (pause_expired)"),
    ("resumed", "resolution running again after 30m paused"),
    ("resumed", "frontline running again"),
    ("status_changed", "in_progress -> waiting_on_creator (request_info)"),
    ("paused", "resolution paused (waiting_on_creator)"),
    ("paused", "frontline paused (waiting_on_creator)"),
    ("status_changed", "waiting_on_creator -> in_progress (creator_replied)"),
    ("resumed", "resolution running again after 10m paused"),
    ("resumed", "frontline running again"),
    ("assigned", "assigned to nobody (was ana)"),
    ("escalated", "frontline -> security (escalated by hand), queue security-specialists"),
    ("notified", "notify security-oncall: entered security"),
]
LATE = [
    {"at": at(5).isoformat(), "action": "request_info"},
    {"at": at(10).isoformat(), "action": "creator_replied", "actor": "creator"},
    {"at": at(15).isoformat(), "action": "acknowledge"},
    {"at": at(20).isoformat(), "action": "creator_replied", "actor": "creator"},
]
LATE_TIMELINE = [
    ("opened", "opened as P2 (policy default) in frontline, queue creator-support"),
    ("status_changed", "open -> waiting_on_creator (request_info)"),
    ("paused", "resolution paused (waiting_on_creator)"),
    ("paused", "frontline paused (waiting_on_creator)"),
    ("status_changed", "waiting_on_creator -> in_progress (creator_replied)"),
    ("resumed", "resolution running again after 5m paused"),
    ("resumed", "frontline running again"),
    ("acknowledged", "acknowledged while in_progress"),
    ("creator_replied", "creator wrote while in_progress"),
    ("at_risk", "first_response at risk, due 2026-03-02T10:00:00+00:00"),
    ("breached", "first_response breached at its deadline (target 1h00m), priority P2"),
    ("notified", "notify support-leads: first_response breached"),
    ("breached", "frontline breached at its deadline (target 2h00m), priority P2"),
    ("escalated", "frontline -> security (timer), queue security-specialists"),
    ("notified", "notify security-oncall: entered security"),
]


@pytest.mark.parametrize(("raw", "expected"), [(WORKED, WORKED_TIMELINE), (LATE, LATE_TIMELINE)])
def test_the_timeline_says_each_event_in_words(raw, expected):
    """The text people read in `lifeline policies simulate` and the console's simulation, pinned
    for every kind these two histories hold (an acknowledge that is only a marker; a reply; a pause
    that runs out; a breach with its target; escalations by hand and by timer)."""
    run = simulate(make_policy(), ALWAYS_CAL, T0, {}, parse_actions(raw), until=at(hours=3))
    assert [(entry["kind"], entry["detail"]) for entry in map(timeline_entry, run.events)] == expected
    assert {e.actor for e in run.events if str(e.kind) == "opened"} == {"agent:simulated"}


def test_actions_keep_their_actor_and_arguments_and_may_share_an_instant():
    raw = [
        {"at": OPENED, "action": "assign", "assignee": "agent:bo", "actor": "agent:lead"},
        {"at": OPENED, "action": "note", "text": "same minute"},
    ]
    first, second = parse_actions(raw)
    assert (first.name, first.at, first.actor, dict(first.args)) == (
        ActionName.ASSIGN,
        T0,
        "agent:lead",
        {"assignee": "agent:bo"},
    )
    assert (second.at, second.actor, dict(second.args)) == (T0, "agent:simulated", {"text": "same minute"})


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ([{"at": OPENED}], "/0/action: required"),
        ([{"action": "start"}], "/0/at: required"),
        (
            [{"at": "2026-03-02T10:00:00Z", "action": "start"}, {"at": OPENED, "action": "resolve"}],
            "/1/at: actions must be in time order",
        ),
    ],
)
def test_missing_and_unordered_action_fields_are_said_word_for_word(raw, where):
    with pytest.raises(SimulationInputError) as err:
        parse_actions(raw)
    assert str(err.value) == where


def test_actions_after_the_end_are_ignored_and_the_timers_still_run_to_the_end():
    actions = parse_actions(
        [
            {"at": at(30).isoformat(), "action": "note", "text": "in"},
            {"at": at(hours=3).isoformat(), "action": "resolve"},
        ]
    )
    run = simulate(make_policy(), ALWAYS_CAL, T0, {}, actions, until=at(hours=2))
    kinds = [str(e.kind) for e in run.events]
    assert run.until == at(hours=2) and run.state.status is Status.OPEN
    assert "note_added" in kinds and "breached" in kinds and "status_changed" not in kinds
    assert all(e.at <= at(hours=2) for e in run.events)


def test_a_deadline_exactly_at_the_horizon_still_fires():
    """The open-ended run fires every deadline up to and including ``opened_at + 90 days``."""
    policy = make_policy()
    run = simulate(policy, ALWAYS_CAL, T0, {}, [])
    last = max(e.at for e in run.events)
    assert last == at(days=90) == run.until


def test_input_that_is_not_an_object_is_wrong_at_the_root():
    for parse, raw in ((parse_case, []), (parse_actions, {})):
        with pytest.raises(SimulationInputError) as err:
            parse(raw)
        assert err.value.pointer == ""  # the JSON pointer of the whole document (printed as "/")


def test_escalating_past_the_last_stage_is_refused_by_name():
    actions = parse_actions(
        [
            {"at": at(5).isoformat(), "action": "escalate", "to_stage": "lead"},
            {"at": at(6).isoformat(), "action": "escalate"},
        ]
    )
    with pytest.raises(SimulationInputError) as err:
        simulate(make_policy(), ALWAYS_CAL, T0, {}, actions)
    assert str(err.value) == "/1/to_stage: the case is already at the last stage (lead)"
