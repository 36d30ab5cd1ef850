"""Replay verification: run a case's recorded agent actions through the engine under the case's
pinned policy version and compare what the engine says should have happened with what was recorded.

The replay stops at the case's *horizon*: the ``recorded_at`` of its last engine write. Every write
(an agent action, a sweep, the opening) first applies every timer due by its own instant, so by the
horizon every timer due at or before it must be in the history. Timers due after it are not yet
owed; the ones already past the verification instant are reported apart as ``overdue`` (the worker
is behind or down), which is not a defect of the record.

Events are matched by what they are about, not by position: (kind, subject, n-th occurrence), where
the subject is the clock, stage, channel, action or target the event names. Each unmatched or
different event becomes a ``Finding``:

- ``missing``: the engine says it should be there and it is not (``seq`` is where it belongs);
- ``extra``: recorded, but the engine would never have written it;
- ``moved``: both exist, at a different ``at`` (a deadline computed differently);
- ``different``: same time, different actor, data or dedupe key;
- ``replay_failed``: a recorded action the engine refuses (the history cannot have happened);
- ``state_mismatch``: the case's stored state or columns differ from the replayed state.

A history may move to another policy version (a ``policy_migrated`` event, ``lifeline policies
migrate``): the replay starts under the version the case opened with and, at that event, migrates
exactly as the service did (sla_engine.migration, same mode, same instant), then goes on under the
new version; the version it ends on must be the one the case pins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from casework.audit.actions import RecordedAction, RecordedMigration, engine_events, recorded_steps
from casework.errors import PolicyNotRegistered, StoredPolicyUnreadable, UnreadableAction
from casework.history.hashchain import canonical_json, normalize_json, utc_iso
from models.tables import Case, CaseEvent
from sla_engine import cases as engine
from sla_engine.agent_actions import InvalidAction
from sla_engine.events import EngineEvent, Step
from sla_engine.kinds import SYSTEM_ACTOR, EventKind, Status
from sla_engine.migration import MigrationMode, Opening, Versioned, migrate
from sla_engine.state import CaseState, state_to_dict
from sla_engine.transitions import ForbiddenTransition


@dataclass(frozen=True)
class Finding:
    """One disagreement between the record and the replay (or the chain: see audit_verify)."""

    case_id: str
    seq: int | None
    problem: str
    detail: str
    recorded: dict[str, Any] | None = None
    expected: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "seq": self.seq,
            "problem": self.problem,
            "detail": self.detail,
            "recorded": self.recorded,
            "expected": self.expected,
        }


@dataclass
class CaseReplay:
    """What the replay of one case found, with the lateness (seconds) of its recorded timed events
    and the timers overdue at the verification instant."""

    findings: list[Finding] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)


#: A registered version of the case's policy, by number (PolicyNotRegistered if unknown).
Versions = Callable[[int], Versioned]


def replay_case(versions: Versions, case: Case, events: Sequence[CaseEvent], now: datetime) -> CaseReplay:
    """Replay ``case`` (its events in seq order) from the version it opened with, and compare;
    ``now`` is the verification instant."""
    result = CaseReplay()
    recorded = engine_events(events)
    if not recorded or recorded[0].kind is not EventKind.OPENED:
        seq = recorded[0].seq if recorded else 1
        result.findings.append(
            Finding(case.id, seq, "replay_failed", "the history does not start with 'opened'")
        )
        return result
    opened = recorded[0]
    horizon = _horizon(recorded, opened)
    try:
        step, version = _replay(versions, opened, _safe_steps(recorded), horizon)
    except _ReplayRefused as refused:
        result.findings.append(Finding(case.id, refused.seq, "replay_failed", refused.detail))
        return result
    result.findings.extend(compare_events(case.id, recorded, step.events))
    result.findings.extend(compare_state(case, step.state))
    if version != case.policy_version:
        detail = f"the case pins policy version {case.policy_version}; its history ends on version {version}"
        result.findings.append(Finding(case.id, case.last_seq, "state_mismatch", detail))
    result.lateness.extend(_lateness(recorded, opened))
    result.overdue.extend(_overdue(case.id, step.state, now))
    return result


def _horizon(recorded: Sequence[CaseEvent], opened: CaseEvent) -> datetime | None:
    """Where the replay advances to: the last write's instant. None when the opening is the only
    write and was not backdated: the service opens without advancing (a deadline already due at
    that instant, such as a not_after cap, is left to the next sweep)."""
    last = max(e.recorded_at for e in recorded)
    if last == opened.recorded_at and opened.at == opened.recorded_at:
        return None
    return last


class _ReplayRefused(Exception):
    def __init__(self, seq: int, detail: str) -> None:
        super().__init__(detail)
        self.seq = seq
        self.detail = detail


def _replay(
    versions: Versions,
    opened: CaseEvent,
    steps: Sequence[RecordedAction | RecordedMigration],
    horizon: datetime | None,
) -> tuple[Step, int]:
    """The expected events and state, and the policy version the history ends on."""
    current = _version(versions, opened.policy_version, opened.seq)
    attributes = opened.data.get("attributes") or {}
    try:
        status = Status(opened.data.get("status", Status.OPEN))
        step = engine.open_case(current.policy, current.calendar, attributes, opened.at, opened.actor, status)
    except (InvalidAction, ValueError) as exc:
        raise _ReplayRefused(opened.seq, f"the engine refuses the recorded opening: {exc}") from None
    state, events = step.state, list(step.events)
    done: list[RecordedAction] = []
    for recorded in steps:
        if isinstance(recorded, RecordedMigration):
            opening = Opening(attributes, opened.at, opened.actor, status, [a.action for a in done])
            current, state, more = _migrated(versions, current, state, recorded, opening, events)
            events.extend(more)
            continue
        try:
            step = engine.apply_action(current.policy, current.calendar, state, recorded.action)
        except (InvalidAction, ForbiddenTransition, KeyError, TypeError, ValueError) as exc:
            raise _ReplayRefused(
                recorded.seq,
                f"the engine refuses the recorded {recorded.action.name} action: {exc}",
            ) from None
        state = step.state
        events.extend(step.events)
        done.append(recorded)
    if horizon is None:
        return Step(state, events), current.version
    step = engine.advance(current.policy, current.calendar, state, horizon)
    return Step(step.state, events + list(step.events)), current.version


def _version(versions: Versions, number: int, seq: int) -> Versioned:
    try:
        return versions(number)
    except (PolicyNotRegistered, StoredPolicyUnreadable) as exc:
        raise _ReplayRefused(seq, f"cannot replay: {exc}") from None


def _migrated(
    versions: Versions,
    current: Versioned,
    state: CaseState,
    recorded: RecordedMigration,
    opening: Opening,
    events: Sequence[EngineEvent],
) -> tuple[Versioned, CaseState, list[EngineEvent]]:
    """The migration a ``policy_migrated`` event records, done again as the service did it."""
    event, data = recorded.event, recorded.event.data
    try:
        mode = MigrationMode(str(data.get("mode")))
        source, target = int(data["from"]), int(data["to"])
    except (KeyError, TypeError, ValueError):
        raise _ReplayRefused(recorded.seq, "the policy_migrated event names no mode, from and to") from None
    if source != current.version or mode is MigrationMode.KEEP:
        detail = f"the case was on version {current.version}, the event migrates {mode} from version {source}"
        raise _ReplayRefused(recorded.seq, detail)
    new = _version(versions, target, recorded.seq)
    known = {e.dedupe_key for e in events if e.dedupe_key}
    try:
        moved = migrate(current, new, state, mode, event.at, event.actor, opening, known)
    except (InvalidAction, ForbiddenTransition, KeyError, TypeError, ValueError) as exc:
        raise _ReplayRefused(recorded.seq, f"the engine refuses the recorded migration: {exc}") from None
    return new, moved.state, [*moved.timed, *moved.events]


def _safe_steps(events: Sequence[CaseEvent]) -> list[RecordedAction | RecordedMigration]:
    try:
        return recorded_steps(events)
    except UnreadableAction as exc:
        raise _ReplayRefused(exc.seq, str(exc)) from None


# --- comparing events ------------------------------------------------------------------------------


def event_view(kind: str, at: datetime, actor: str, data: Any, dedupe_key: str | None) -> dict[str, Any]:
    return {"kind": kind, "at": utc_iso(at), "actor": actor, "data": data, "dedupe_key": dedupe_key}


def _recorded_view(event: CaseEvent) -> dict[str, Any]:
    return event_view(str(event.kind), event.at, event.actor, event.data, event.dedupe_key)


def _expected_view(event: EngineEvent) -> dict[str, Any]:
    return event_view(str(event.kind), event.at, event.actor, normalize_json(event.data), event.dedupe_key)


def _subject(kind: str, data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    if kind == EventKind.NOTIFIED:
        return f"{data.get('channel')}|{data.get('reason')}"
    if kind in (
        EventKind.ESCALATED,
        EventKind.PRIORITY_CHANGED,
        EventKind.QUEUE_CHANGED,
        EventKind.ASSIGNED,
    ):
        return f"to={data.get('to')}"
    if kind == EventKind.STATUS_CHANGED:
        return f"action={data.get('action')}"
    if kind in (EventKind.NOTE_ADDED, EventKind.ATTRIBUTES_CHANGED):
        return canonical_json(data)
    for name in ("clock", "stage"):
        if name in data:
            return f"{name}={data[name]}"
    return ""


def _keyed(views: Sequence[dict[str, Any]]) -> list[tuple[str, str, int]]:
    counts: dict[tuple[str, str], int] = {}
    keys = []
    for view in views:
        base = (view["kind"], _subject(view["kind"], view["data"]))
        counts[base] = counts.get(base, 0) + 1
        keys.append((*base, counts[base]))
    return keys


def compare_events(
    case_id: str, recorded: Sequence[CaseEvent], expected: Sequence[EngineEvent]
) -> list[Finding]:
    """Findings for every expected event missing, moved or different, and every extra recorded one."""
    rec_views = [_recorded_view(e) for e in recorded]
    exp_views = [_expected_view(e) for e in expected]
    by_key = {
        key: (event, view) for key, event, view in zip(_keyed(rec_views), recorded, rec_views, strict=True)
    }
    findings: list[Finding] = []
    matched: set[tuple[str, str, int]] = set()
    last_seq = 0
    for key, view in zip(_keyed(exp_views), exp_views, strict=True):
        found = by_key.get(key)
        if found is None:
            findings.append(_missing(case_id, last_seq + 1, view))
            continue
        matched.add(key)
        event, rec_view = found
        last_seq = event.seq
        problem = _difference(rec_view, view)
        if problem is not None:
            findings.append(Finding(case_id, event.seq, problem[0], problem[1], rec_view, view))
    for key, (event, view) in by_key.items():
        if key not in matched:
            detail = f"recorded {view['kind']} at {view['at']} that the policy never called for"
            findings.append(Finding(case_id, event.seq, "extra", detail, view, None))
    return sorted(findings, key=lambda f: (f.seq or 0, f.problem))


def _missing(case_id: str, seq: int, view: dict[str, Any]) -> Finding:
    detail = f"the policy calls for {view['kind']} at {view['at']} by {view['actor']}; the history lacks it"
    return Finding(case_id, seq, "missing", detail, None, view)


def _difference(recorded: dict[str, Any], expected: dict[str, Any]) -> tuple[str, str] | None:
    if recorded["at"] != expected["at"]:
        return (
            "moved",
            f"{recorded['kind']} recorded at {recorded['at']}, the policy says {expected['at']}",
        )
    fields = [name for name in ("actor", "data", "dedupe_key") if recorded[name] != expected[name]]
    if fields:
        return "different", f"{recorded['kind']} at {recorded['at']} differs in {', '.join(fields)}"
    return None


# --- comparing state ------------------------------------------------------------------------------


def compare_state(case: Case, replayed: CaseState) -> list[Finding]:
    """The case's stored state JSON and its queryable columns against the replayed state."""
    expected = normalize_json(state_to_dict(replayed))
    stored = case.state or {}
    recorded: dict[str, Any] = {}
    wanted: dict[str, Any] = {}
    for key in sorted(set(expected) | set(stored)):
        if expected.get(key) != stored.get(key):
            recorded[f"state.{key}"], wanted[f"state.{key}"] = stored.get(key), expected.get(key)
    for name, value in _columns(expected).items():
        actual = getattr(case, name)
        if (None if actual is None else str(actual)) != value:
            recorded[f"column {name}"], wanted[f"column {name}"] = actual, value
    if not recorded:
        return []
    detail = "the case's stored state differs from the replay in: " + ", ".join(recorded)
    return [Finding(case.id, case.last_seq, "state_mismatch", detail, normalize_json(recorded), wanted)]


def _columns(state: dict[str, Any]) -> dict[str, str | None]:
    """The values copy_state mirrors onto the case row's columns."""
    return {
        "status": state["status"],
        "stage": state["stage"]["id"],
        "queue": state["queue"],
        "priority": state["priority"],
        "assignee": state["assignee"],
    }


# --- timing ---------------------------------------------------------------------------------------


def _lateness(recorded: Sequence[CaseEvent], opened: CaseEvent) -> list[float]:
    """recorded_at - at of every event a timer wrote, except those written with the opening (a case
    opened with a past ``opened_at`` fires its past deadlines at once: that is not worker lateness)
    or with a migration (a recompute records what the new version would have done, after the fact)."""
    unlike_sweeps = {opened.recorded_at} | {
        e.recorded_at for e in recorded if e.kind is EventKind.POLICY_MIGRATED
    }
    return [
        (e.recorded_at - e.at).total_seconds()
        for e in recorded
        if e.actor == SYSTEM_ACTOR and e.dedupe_key is not None and e.recorded_at not in unlike_sweeps
    ]


def _overdue(case_id: str, state: CaseState, now: datetime) -> list[dict[str, Any]]:
    return [
        {"case_id": case_id, "timer": str(kind), "target": ref, "due_at": utc_iso(due)}
        for due, kind, ref in state.pending_timers
        if due <= now
    ]
