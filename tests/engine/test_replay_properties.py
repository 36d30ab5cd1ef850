"""Properties of the engine over random histories: purity, replayability, exactly-once timed events."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from sla_engine.agent_actions import InvalidAction
from sla_engine.cases import advance, apply_action, open_case, replay
from sla_engine.events import AgentAction
from sla_engine.kinds import ActionName
from sla_engine.state import state_from_dict, state_to_dict
from sla_engine.transitions import ForbiddenTransition
from tests.engine.builders import ALWAYS_CAL, PARTNER_RULE, T0, make_policy

POLICY = make_policy(rules=[PARTNER_RULE])

ACTION_ARGS: dict[ActionName, dict[str, Any]] = {
    ActionName.ACKNOWLEDGE: {},
    ActionName.START: {},
    ActionName.REQUEST_INFO: {},
    ActionName.CREATOR_REPLIED: {},
    ActionName.RESOLVE: {},
    ActionName.REOPEN: {},
    ActionName.CLOSE: {},
    ActionName.ESCALATE: {},
    ActionName.SET_PRIORITY: {"priority": "P1"},
    ActionName.NOTE: {"text": "called the creator"},
    ActionName.ASSIGN: {"assignee": "ana"},
    ActionName.UPDATE_ATTRIBUTES: {"attributes": {"creator": {"tier": "partner"}}},
}

histories = st.lists(
    st.tuples(st.integers(min_value=0, max_value=600), st.sampled_from(sorted(ACTION_ARGS))),
    max_size=12,
)


#: Shrunk failures found so far, kept as examples so every run tries them first: the first-response
#: breach (at 60 min), then resolve and reopen (a breached clock resumed and breached again).
BREACH_RESOLVE_REOPEN = [(90, ActionName.RESOLVE), (10, ActionName.REOPEN)]
BREACH_RESOLVE_REOPEN_TWICE = BREACH_RESOLVE_REOPEN * 2


def accepted_actions(raw):
    """Apply the random actions in time order, keeping only those the case accepts."""
    state = open_case(POLICY, ALWAYS_CAL, {}, T0, "system").state
    when, kept = T0, []
    for gap, name in raw:
        when = when + timedelta(minutes=gap)
        action = AgentAction(name, when, "agent:prop", ACTION_ARGS[name])
        try:
            state = apply_action(POLICY, ALWAYS_CAL, state, action).state
        except (ForbiddenTransition, InvalidAction):
            continue
        kept.append(action)
    return kept, when


@given(histories, st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=20))
@example(BREACH_RESOLVE_REOPEN, [70, 25, 300])
@example(BREACH_RESOLVE_REOPEN_TWICE, [1])
def test_advancing_in_any_steps_gives_the_same_history_as_one_replay(raw, steps):
    actions, last = accepted_actions(raw)
    end = last + timedelta(days=2)
    whole = replay(POLICY, ALWAYS_CAL, {}, T0, actions, end)

    step = open_case(POLICY, ALWAYS_CAL, {}, T0, "system")
    state, events, now, pending = step.state, list(step.events), T0, list(actions)
    for minutes in steps:
        now = min(now + timedelta(minutes=minutes), end)
        while pending and pending[0].at <= now:
            step = apply_action(POLICY, ALWAYS_CAL, state, pending.pop(0))
            state, events = step.state, events + list(step.events)
        step = advance(POLICY, ALWAYS_CAL, state, now)
        state, events = step.state, events + list(step.events)
    for action in pending:
        step = apply_action(POLICY, ALWAYS_CAL, state, action)
        state, events = step.state, events + list(step.events)
    step = advance(POLICY, ALWAYS_CAL, state, end)
    events += list(step.events)

    assert [(e.kind, e.at, e.dedupe_key, dict(e.data)) for e in events] == [
        (e.kind, e.at, e.dedupe_key, dict(e.data)) for e in whole.events
    ]
    assert state_to_dict(step.state) == state_to_dict(whole.state)


@given(histories)
@example(BREACH_RESOLVE_REOPEN)
@example(BREACH_RESOLVE_REOPEN_TWICE)
def test_timed_events_are_unique_ordered_and_the_state_round_trips(raw):
    actions, last = accepted_actions(raw)
    run = replay(POLICY, ALWAYS_CAL, {}, T0, actions, last + timedelta(days=3))
    keys = Counter(e.dedupe_key for e in run.events if e.dedupe_key is not None)
    assert all(n == 1 for n in keys.values())
    ats = [e.at for e in run.events]
    assert ats == sorted(ats)
    assert state_from_dict(state_to_dict(run.state)) == run.state
    if run.state.status in ("resolved", "closed"):
        assert run.state.next_deadline_at is None
