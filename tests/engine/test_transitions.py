"""The state machine as agents meet it: each allowed action leads where the table says, and each
refused one says exactly what was tried, from where, to where, and what is allowed instead."""

from __future__ import annotations

import pytest

from sla_engine.kinds import ActionName, Status
from sla_engine.transitions import TRANSITIONS, ForbiddenTransition, next_status

A = ActionName
S = Status

#: Where each action leads wherever it is allowed (None: it leaves the status as it is, or, for
#: ``creator_replied``, moves it only out of ``waiting_on_creator``).
MOVES_TO: dict[ActionName, Status | None] = {
    A.ACKNOWLEDGE: S.ACKNOWLEDGED,
    A.START: S.IN_PROGRESS,
    A.REQUEST_INFO: S.WAITING_ON_CREATOR,
    A.CREATOR_REPLIED: S.IN_PROGRESS,
    A.RESOLVE: S.RESOLVED,
    A.REOPEN: S.OPEN,
    A.CLOSE: S.CLOSED,
    A.MERGE_INTO: S.MERGED,
    A.ASSIGN: None,
    A.NOTE: None,
    A.REPLY: None,
    A.ESCALATE: None,
    A.SET_PRIORITY: None,
    A.UPDATE_ATTRIBUTES: None,
}

ALL = [(status, action) for status in Status for action in ActionName]


@pytest.mark.parametrize(("status", "action"), [pair for pair in ALL if pair[1] in TRANSITIONS[pair[0]]])
def test_an_allowed_action_leads_where_the_table_says(status: Status, action: ActionName) -> None:
    assert next_status(status, action) is TRANSITIONS[status][action]


@pytest.mark.parametrize(("status", "action"), [pair for pair in ALL if pair[1] not in TRANSITIONS[pair[0]]])
def test_a_refused_action_names_what_was_tried_from_where_and_to_where(
    status: Status, action: ActionName
) -> None:
    with pytest.raises(ForbiddenTransition) as refused:
        next_status(status, action)
    assert (refused.value.action, refused.value.from_status, refused.value.to_status) == (
        action,
        status,
        MOVES_TO[action],
    )
    assert str(refused.value).startswith(f"cannot {action} a case that is {status}")


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (
            S.OPEN,
            A.CLOSE,
            "cannot close a case that is open (from open to closed); allowed here: acknowledge, assign, "
            "creator_replied, escalate, merge_into, note, reply, request_info, resolve, set_priority, start, "
            "update_attributes",
        ),
        (  # reopen leads to open: nothing moves, so no "(from ... to ...)"
            S.OPEN,
            A.REOPEN,
            "cannot reopen a case that is open; allowed here: acknowledge, assign, creator_replied, "
            "escalate, merge_into, note, reply, request_info, resolve, set_priority, start, "
            "update_attributes",
        ),
        (
            S.RESOLVED,
            A.REQUEST_INFO,
            "cannot request_info a case that is resolved (from resolved to waiting_on_creator); "
            "allowed here: assign, close, creator_replied, merge_into, note, reopen, reply",
        ),
        (
            S.CLOSED,
            A.REOPEN,
            "cannot reopen a case that is closed (from closed to open); allowed here: none (the case is "
            "closed or merged)",
        ),
        (
            S.MERGED,
            A.NOTE,
            "cannot note a case that is merged; allowed here: none (the case is closed or merged)",
        ),
    ],
)
def test_the_refusal_reads_as_the_agent_sees_it(status: Status, action: ActionName, message: str) -> None:
    with pytest.raises(ForbiddenTransition) as refused:
        next_status(status, action)
    assert str(refused.value) == message
