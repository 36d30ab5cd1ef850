"""The named kinds of the case model: statuses, agent actions, event kinds, actors.

These strings are part of the public contract (API, history, exports): never rename one.
"""

from enum import StrEnum


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CREATOR = "waiting_on_creator"
    RESOLVED = "resolved"
    CLOSED = "closed"
    #: Merged into another case (action ``merge_into``): ended like ``closed``, pointing at the survivor.
    MERGED = "merged"


#: Statuses in which a case is still being worked: its clocks and stage timers may run.
ACTIVE_STATUSES = frozenset({Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING_ON_CREATOR})


class ActionName(StrEnum):
    """What an agent (or the creator, through an agent) can do to a case."""

    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    START = "start"
    NOTE = "note"
    REQUEST_INFO = "request_info"
    CREATOR_REPLIED = "creator_replied"
    ESCALATE = "escalate"
    SET_PRIORITY = "set_priority"
    UPDATE_ATTRIBUTES = "update_attributes"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"
    #: A public message to the creator (``note`` stays internal); records ``replied``.
    REPLY = "reply"
    #: Close this case as a duplicate of ``case_id`` (status ``merged``).
    MERGE_INTO = "merge_into"


class EventKind(StrEnum):
    OPENED = "opened"
    STATUS_CHANGED = "status_changed"
    PAUSED = "paused"
    RESUMED = "resumed"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    ESCALATED = "escalated"
    NOTIFIED = "notified"
    PRIORITY_CHANGED = "priority_changed"
    QUEUE_CHANGED = "queue_changed"
    ASSIGNED = "assigned"
    NOTE_ADDED = "note_added"
    ATTRIBUTES_CHANGED = "attributes_changed"
    CLOCK_STOPPED = "clock_stopped"
    #: A clock began counting: a ``starts_on`` clock's start, or a new cycle of a cycle clock.
    CLOCK_STARTED = "clock_started"
    #: A public reply to the creator (action ``reply``).
    REPLIED = "replied"
    #: An acknowledgement that leaves the status as it is (the case was already being worked).
    ACKNOWLEDGED = "acknowledged"
    #: A creator message on a case that was not waiting on the creator (no status change).
    CREATOR_REPLIED = "creator_replied"
    #: A ``request_info`` pause ran out at its ``until``: the worker resumed the case.
    PAUSE_EXPIRED = "pause_expired"
    # Written by the notification delivery flow, not by the engine.
    NOTIFICATION_DELIVERED = "notification_delivered"
    NOTIFICATION_FAILED = "notification_failed"
    # Written by the services about cases' relations, not by the engine (no state change).
    LINKED = "linked"
    UNLINKED = "unlinked"
    MERGED = "merged"
    POLICY_MIGRATED = "policy_migrated"
    # Written by the creator channel when an agent replaces the creator's status link (no token).
    CREATOR_LINK_ROTATED = "creator_link_rotated"
    #: A dead notification queued again by an operator (same notification_id).
    NOTIFICATION_REDELIVERED = "notification_redelivered"


class TimerKind(StrEnum):
    """A pending timer of a case (``CaseState.pending_timers``), each fired by its handler in
    ``timers.FIRE``. The value begins the dedupe key of what it writes (``breached:clock:resolution``):
    part of the stored history, never rename one."""

    AT_RISK = "at_risk"
    BREACHED = "breached"
    ESCALATION = "escalation"
    REPEAT_NOTIFY = "repeat_notify"
    PAUSE_EXPIRED = "pause_expired"


#: The actor of every event the engine writes on its own (timers and the actions they trigger).
SYSTEM_ACTOR = "system:escalation"


class ClockStatus(StrEnum):
    #: Not counting yet: waiting for one of its ``starts_on`` (or, for a cycle clock, its next cycle).
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
