"""Events in words: one line per event, as an agent would say it ("first_response breached at its
deadline (target 15m), priority P1").

The console's timeline, ``lifeline policies simulate`` and ``POST /v1/policies/{id}/simulate`` show
these lines. ``SENTENCES`` holds one function per event kind, looked up by kind like the engine's
other tables (``FIRE``, ``HANDLERS``); each reads only the event's data as stored, so the same
sentence comes out of an event just computed and one read back from the database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sla_engine.events import EngineEvent
from sla_engine.kinds import EventKind

K = EventKind
Data = Mapping[str, Any]


def _hours(seconds: float) -> str:
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _subject(d: Data) -> str:
    """The clock or the stage the event is about."""
    return str(d.get("clock") or d.get("stage") or "")


def _cycle(d: Data) -> str:
    return f" (cycle {d['cycle']})" if d.get("cycle") else ""


def _opened(d: Data) -> str:
    waiting = f", {d['status']}" if d.get("status") else ""
    return f"opened as {d['priority']} ({d['priority_reason']}) in {d['stage']}, queue {d['queue']}{waiting}"


def _breached(d: Data) -> str:
    target = f" (target {_hours(d['target'])})" if d.get("target") else ""
    if d.get("capped_by"):
        target = f" (capped by {d['capped_by']})"
    return f"{_subject(d)} breached at its deadline{target}, priority {d['priority']}"


def _resumed(d: Data) -> str:
    paused = f" after {_hours(d['paused_for'])} paused" if d.get("paused_for") else ""
    return f"{_subject(d)} running again{paused}"


def _clock_stopped(d: Data) -> str:
    if "elapsed" not in d:
        return f"stage {_subject(d)} timer stopped on {d['status']}"
    met = "met" if d.get("met") else "missed"
    cycle = f" cycle {d['cycle']}" if d.get("cycle") else ""
    on = d.get("action") or d["status"]
    return f"{_subject(d)}{cycle} stopped on {on} after {_hours(d['elapsed'])} ({met})"


def _delivery(d: Data) -> str:
    """Which notification: its channel, the event that made it, the attempt."""
    return f"{d['channel']} (event {d['event_seq']}, attempt {d['attempts']}"


def _delivered(d: Data) -> str:
    code = f", HTTP {d['status_code']}" if d.get("status_code") else ""
    return f"delivered to {_delivery(d)}{code})"


def _migrated(d: Data) -> str:
    before, after = d["before"]["next_deadline_at"], d["after"]["next_deadline_at"]
    return f"policy version {d['from']} -> {d['to']} ({d['mode']}), next deadline {before} -> {after}"


def _merged(d: Data) -> str:
    return f"merged into {d['into']}" if "into" in d else f"{d['from']} merged into this case"


SENTENCES: dict[EventKind, Callable[[Data], str]] = {
    K.OPENED: _opened,
    K.STATUS_CHANGED: lambda d: f"{d['from']} -> {d['to']} ({d['action']})",
    K.AT_RISK: lambda d: f"{_subject(d)} at risk{_cycle(d)}, due {d.get('due_at')}",
    K.BREACHED: _breached,
    K.ESCALATED: lambda d: f"{d['from']} -> {d['to']} ({d['reason']}), queue {d['queue']}",
    K.NOTIFIED: lambda d: f"notify {d['channel']}: {d['reason']}",
    K.PRIORITY_CHANGED: lambda d: f"{d['from']} -> {d['to']} ({d['reason']})",
    K.PAUSED: lambda d: f"{_subject(d)} paused ({d.get('action') or d.get('status')})",
    K.CLOCK_STARTED: lambda d: f"{_subject(d)} started on {d['on']}{_cycle(d)}",
    K.REPLIED: lambda d: f"public reply: {d['message']}",
    K.ACKNOWLEDGED: lambda d: f"acknowledged while {d['status']}",
    K.CREATOR_REPLIED: lambda d: f"creator wrote while {d['status']}",
    K.PAUSE_EXPIRED: lambda d: f"waiting on the creator ran out at {d['until']}",
    K.RESUMED: _resumed,
    K.CLOCK_STOPPED: _clock_stopped,
    K.ASSIGNED: lambda d: f"assigned to {d['to'] or 'nobody'} (was {d['from'] or 'nobody'})",
    K.NOTE_ADDED: lambda d: f"note: {d['text']}",
    K.QUEUE_CHANGED: lambda d: f"queue {d['from']} -> {d['to']}",
    K.ATTRIBUTES_CHANGED: lambda d: (
        "attributes changed: "
        + ", ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in sorted(d["changed"].items()))
    ),
    K.NOTIFICATION_DELIVERED: _delivered,
    K.NOTIFICATION_FAILED: lambda d: f"not delivered to {_delivery(d)}): {d['error']}",
    K.NOTIFICATION_REDELIVERED: lambda d: (
        f"delivery to {d['channel']} of event {d['event_seq']} retried, asked by {d['requested_by']}"
    ),
    K.LINKED: lambda d: f"linked ({d['kind']}) {d['case_id']}",
    K.UNLINKED: lambda d: f"unlinked ({d['kind']}) {d['case_id']}",
    K.MERGED: _merged,
    K.CREATOR_LINK_ROTATED: lambda d: f"the creator's status link was replaced (rotation {d['rotations']})",
    K.POLICY_MIGRATED: _migrated,
}


def sentence(event: EngineEvent) -> str | None:
    """The event in words; None for a kind without a sentence. KeyError or TypeError when the
    data lacks what its kind always records (a reader of stored events must expect that)."""
    say = SENTENCES.get(event.kind)
    return None if say is None else say(event.data)


def describe(event: EngineEvent) -> str:
    """``sentence``, or the event's data as ``key=value`` pairs for a kind without one."""
    said = sentence(event)
    if said is not None:
        return said
    return ", ".join(f"{k}={v}" for k, v in event.data.items() if k != "request")
