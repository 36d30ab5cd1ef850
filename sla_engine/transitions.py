"""The case state machine: which action may move a case from which status, and to where.

One explicit table, so agents, the API and auditors read the same rules. An action absent from a
status's row is forbidden there and raises ``ForbiddenTransition`` naming both states.

Markers that clocks may name (docs/policy-language.md, "Statuses and actions a clock may name") are
recordable wherever they mean something: ``acknowledge`` also in ``in_progress`` and
``waiting_on_creator`` (the status stays; it marks the first response when the agent started or
asked for details first), ``creator_replied`` also in ``open``, ``acknowledged`` and ``in_progress``
(a creator message: the status stays, a next-reply cycle starts), and ``reply`` in every status but
``closed``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sla_engine.kinds import ActionName, Status

A = ActionName
S = Status

#: status -> action -> the status it leads to (the same status for actions that do not move it).
TRANSITIONS: Mapping[Status, Mapping[ActionName, Status]] = {
    S.OPEN: {
        A.ACKNOWLEDGE: S.ACKNOWLEDGED,
        A.START: S.IN_PROGRESS,
        A.REQUEST_INFO: S.WAITING_ON_CREATOR,
        A.RESOLVE: S.RESOLVED,
        A.CREATOR_REPLIED: S.OPEN,
        A.REPLY: S.OPEN,
        A.ASSIGN: S.OPEN,
        A.NOTE: S.OPEN,
        A.ESCALATE: S.OPEN,
        A.SET_PRIORITY: S.OPEN,
        A.UPDATE_ATTRIBUTES: S.OPEN,
        A.MERGE_INTO: S.MERGED,
    },
    S.ACKNOWLEDGED: {
        A.START: S.IN_PROGRESS,
        A.REQUEST_INFO: S.WAITING_ON_CREATOR,
        A.RESOLVE: S.RESOLVED,
        A.CREATOR_REPLIED: S.ACKNOWLEDGED,
        A.REPLY: S.ACKNOWLEDGED,
        A.ASSIGN: S.ACKNOWLEDGED,
        A.NOTE: S.ACKNOWLEDGED,
        A.ESCALATE: S.ACKNOWLEDGED,
        A.SET_PRIORITY: S.ACKNOWLEDGED,
        A.UPDATE_ATTRIBUTES: S.ACKNOWLEDGED,
        A.MERGE_INTO: S.MERGED,
    },
    S.IN_PROGRESS: {
        A.REQUEST_INFO: S.WAITING_ON_CREATOR,
        A.RESOLVE: S.RESOLVED,
        A.ACKNOWLEDGE: S.IN_PROGRESS,
        A.CREATOR_REPLIED: S.IN_PROGRESS,
        A.REPLY: S.IN_PROGRESS,
        A.ASSIGN: S.IN_PROGRESS,
        A.NOTE: S.IN_PROGRESS,
        A.ESCALATE: S.IN_PROGRESS,
        A.SET_PRIORITY: S.IN_PROGRESS,
        A.UPDATE_ATTRIBUTES: S.IN_PROGRESS,
        A.MERGE_INTO: S.MERGED,
    },
    S.WAITING_ON_CREATOR: {
        A.CREATOR_REPLIED: S.IN_PROGRESS,
        A.RESOLVE: S.RESOLVED,
        A.ACKNOWLEDGE: S.WAITING_ON_CREATOR,
        A.REPLY: S.WAITING_ON_CREATOR,
        A.ASSIGN: S.WAITING_ON_CREATOR,
        A.NOTE: S.WAITING_ON_CREATOR,
        A.ESCALATE: S.WAITING_ON_CREATOR,
        A.SET_PRIORITY: S.WAITING_ON_CREATOR,
        A.UPDATE_ATTRIBUTES: S.WAITING_ON_CREATOR,
        A.MERGE_INTO: S.MERGED,
    },
    S.RESOLVED: {
        A.REOPEN: S.OPEN,
        A.CLOSE: S.CLOSED,
        A.NOTE: S.RESOLVED,
        A.REPLY: S.RESOLVED,
        A.CREATOR_REPLIED: S.RESOLVED,
        A.ASSIGN: S.RESOLVED,
        A.MERGE_INTO: S.MERGED,
    },
    S.CLOSED: {},
    S.MERGED: {},
}


class ForbiddenTransition(Exception):
    """An action the state machine does not allow in the case's current status."""

    def __init__(self, action: ActionName, from_status: Status) -> None:
        self.action = action
        self.from_status = from_status
        self.to_status = _intended_target(action)
        allowed = ", ".join(sorted(TRANSITIONS[from_status])) or "none (the case is closed or merged)"
        moves = self.to_status not in (None, from_status)
        super().__init__(
            f"cannot {action} a case that is {from_status}"
            + (f" (from {from_status} to {self.to_status})" if moves else "")
            + f"; allowed here: {allowed}"
        )


def _intended_target(action: ActionName) -> Status | None:
    """Where ``action`` leads wherever it is allowed, for the error message; None if it stays."""
    targets = {row[action] for status, row in TRANSITIONS.items() if action in row and row[action] != status}
    return targets.pop() if len(targets) == 1 else None


def next_status(status: Status, action: ActionName) -> Status:
    """The status ``action`` leads to from ``status``; raises ForbiddenTransition if not allowed."""
    row = TRANSITIONS[status]
    if action not in row:
        raise ForbiddenTransition(action, status)
    return row[action]
