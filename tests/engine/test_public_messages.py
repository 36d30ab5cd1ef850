"""Public messages in the engine: an agent's ``reply`` (event ``replied``) and the creator's
``creator_replied`` with a ``message`` (event ``creator_replied``), beside the internal ``note``."""

from __future__ import annotations

import pytest

from sla_engine.agent_actions import InvalidAction
from sla_engine.cases import apply_action, replay
from sla_engine.kinds import ClockStatus, EventKind, Status
from sla_engine.state import CaseState
from sla_engine.transitions import ForbiddenTransition
from tests.engine.builders import ALWAYS_CAL, T0, act, at, make_policy

STANDARD = {"creator": {"id": "cr_9", "tier": "standard"}}
POLICY = make_policy()
#: Actions that bring a new case to each status.
TO_STATUS = {
    Status.OPEN: [],
    Status.ACKNOWLEDGED: [act("acknowledge", at(1))],
    Status.IN_PROGRESS: [act("start", at(1))],
    Status.WAITING_ON_CREATOR: [act("request_info", at(1), reason="the login alert, please")],
    Status.RESOLVED: [act("resolve", at(1))],
    Status.CLOSED: [act("resolve", at(1)), act("close", at(2))],
    Status.MERGED: [act("merge_into", at(1), case_id="cs_other")],
}
#: Statuses that take no public message: the case is over.
FINAL = (Status.CLOSED, Status.MERGED)


def _case_in(status: Status) -> CaseState:
    state = replay(POLICY, ALWAYS_CAL, STANDARD, T0, TO_STATUS[status], at(3)).state
    assert state.status is status
    return state


@pytest.mark.parametrize("status", [s for s in Status if s not in FINAL])
def test_an_agent_may_reply_in_every_status_but_closed_without_moving_the_case(status: Status) -> None:
    step = apply_action(POLICY, ALWAYS_CAL, _case_in(status), act("reply", at(5), message="We are on it."))
    assert step.state.status is status
    [event] = step.events
    assert (event.kind, event.actor, event.data["message"]) == (
        EventKind.REPLIED,
        "agent:ana",
        "We are on it.",
    )
    assert event.data["request"] == {"action": "reply", "args": {"message": "We are on it."}}


@pytest.mark.parametrize("final", FINAL)
def test_a_closed_or_merged_case_takes_no_reply(final: Status) -> None:
    with pytest.raises(ForbiddenTransition):
        apply_action(POLICY, ALWAYS_CAL, _case_in(final), act("reply", at(5), message="hi"))


def test_a_closed_case_takes_no_reply() -> None:
    with pytest.raises(ForbiddenTransition):
        apply_action(POLICY, ALWAYS_CAL, _case_in(Status.CLOSED), act("reply", at(5), message="hi"))


@pytest.mark.parametrize("message", ["", "   ", "x" * 5001, None])
def test_a_reply_needs_one_to_5000_characters(message: str | None) -> None:
    args = {} if message is None else {"message": message}
    with pytest.raises(InvalidAction) as err:
        apply_action(POLICY, ALWAYS_CAL, _case_in(Status.OPEN), act("reply", at(5), **args))
    assert err.value.field == "message"


def test_the_creators_message_resumes_a_case_waiting_on_them() -> None:
    waiting = _case_in(Status.WAITING_ON_CREATOR)
    step = apply_action(
        POLICY, ALWAYS_CAL, waiting, act("creator_replied", at(5), "creator", message="Here it is")
    )
    assert step.state.status is Status.IN_PROGRESS
    assert step.state.clock("resolution").status is ClockStatus.RUNNING
    first = step.events[0]
    assert (first.kind, first.actor, first.data["message"]) == (
        EventKind.STATUS_CHANGED,
        "creator",
        "Here it is",
    )


@pytest.mark.parametrize("status", [Status.OPEN, Status.IN_PROGRESS, Status.RESOLVED])
def test_the_creators_message_elsewhere_is_recorded_without_moving_the_case(status: Status) -> None:
    step = apply_action(
        POLICY, ALWAYS_CAL, _case_in(status), act("creator_replied", at(5), "creator", message="also")
    )
    assert step.state.status is status
    [event] = step.events
    assert (event.kind, event.data["message"]) == (EventKind.CREATOR_REPLIED, "also")


def test_a_closed_case_takes_no_creator_message() -> None:
    with pytest.raises(ForbiddenTransition):
        apply_action(
            POLICY, ALWAYS_CAL, _case_in(Status.CLOSED), act("creator_replied", at(5), message="hello?")
        )
