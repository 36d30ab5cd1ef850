"""Moving an open case to another version of its policy (``lifeline policies migrate``): pure.

A migration happens at an instant ``now``. The case is first brought up to ``now`` under the version
it is pinned to (every timer due by then fires, as before any change), then moved:

- ``rebase`` keeps the working time every clock and the stage timer have counted and applies the new
  version's targets: clocks are matched by name (a clock the new version adds starts at ``now``, one
  it drops is gone), the stage by id (else the stage at the same place on the ladder, or the last);
  the priority stays unless the new version has no target for it (then its rules decide, and a
  priority set by hand is dropped with it). Facts stay facts: a clock that breached or was met
  stays so. A deadline the new targets put in the past is
  due at ``now`` and fires at once, under the new version, in the same write.
- ``recompute`` replays the case's recorded agent actions from its opening under the new version up
  to ``now``: the state is what the new version would have made of the same history. The timed
  events that replay produces and the history lacks (a breach the stricter version calls for) are
  written with their own instants; those the history already holds (same dedupe key) stay as written.
- ``keep`` leaves the case pinned where it is (nothing is written).

Every migration writes one ``policy_migrated`` event: ``from``, ``to``, ``mode`` and the deadlines
``before`` and ``after``. The auditor's replay (casework.audit.replay) calls these same functions at
that event, so a migrated case replays clean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from policies.model import ClockSpec, Policy
from sla_engine import cases
from sla_engine.business_time import BusinessCalendar
from sla_engine.deadlines import refresh, settle_all
from sla_engine.events import AgentAction, EngineEvent
from sla_engine.kinds import ACTIVE_STATUSES, ClockStatus, EventKind, Status
from sla_engine.priority import decide_priority
from sla_engine.state import CaseState, ClockState, Meter, StageState


class MigrationMode(StrEnum):
    KEEP = "keep"
    REBASE = "rebase"
    RECOMPUTE = "recompute"


@dataclass(frozen=True)
class Versioned:
    """A registered version: its number, the parsed policy and its business calendar."""

    version: int
    policy: Policy
    calendar: BusinessCalendar


@dataclass(frozen=True)
class Opening:
    """What a recompute replays: the case's opening and its recorded agent actions, in order."""

    attributes: Mapping[str, Any]
    opened_at: datetime
    opened_by: str
    status: Status
    actions: Sequence[AgentAction]


@dataclass(frozen=True)
class Migration:
    """A migration's outcome. ``advanced`` is the case brought up to ``now`` under the old version
    with ``timed`` (its timers' events); ``state`` is the final state under the new version with
    ``events`` (what the recompute adds, the ``policy_migrated`` event, then timers now due)."""

    advanced: CaseState
    timed: Sequence[EngineEvent]
    state: CaseState
    events: Sequence[EngineEvent]
    before: dict[str, Any]
    after: dict[str, Any]


def deadlines(state: CaseState) -> dict[str, Any]:
    """The case's deadlines as a reader compares them: each clock's, the stage's, the next one."""
    return {
        "clocks": {c.name: c.due_at for c in state.clocks},
        "stage": {"id": state.stage.id, "due_at": state.stage.due_at},
        "next_deadline_at": state.next_deadline_at,
    }


def migrate(
    old: Versioned,
    new: Versioned,
    state: CaseState,
    mode: MigrationMode,
    now: datetime,
    actor: str,
    opening: Opening | None = None,
    known_keys: AbstractSet[str] = frozenset(),
) -> Migration:
    """Move ``state`` from ``old`` to ``new`` at ``now`` (see the module's docstring). ``opening``
    is required by ``recompute``, with ``known_keys`` the dedupe keys the history already holds.
    Raises the engine's InvalidAction / ForbiddenTransition when the new version refuses the
    recorded history (recompute), ValueError for ``keep`` (nothing to compute)."""
    if mode is MigrationMode.KEEP:
        raise ValueError("mode keep leaves the case pinned: nothing to migrate")
    at = max(now, state.updated_at)
    advanced = cases.advance(old.policy, old.calendar, state, at)
    before = deadlines(advanced.state)
    added: list[EngineEvent] = []
    if mode is MigrationMode.REBASE:
        moved = rebase(old, new, advanced.state, at)
    else:
        if opening is None:
            raise ValueError("recompute needs the case's opening and recorded actions")
        moved, replayed = recompute(new, opening, at)
        keys = set(known_keys) | {e.dedupe_key for e in advanced.events if e.dedupe_key}
        added = [e for e in replayed if e.dedupe_key is not None and e.dedupe_key not in keys]
    after = deadlines(moved)
    data = {"from": old.version, "to": new.version, "mode": str(mode), "before": before, "after": after}
    event = EngineEvent(EventKind.POLICY_MIGRATED, at, actor, data)
    fired = cases.advance(new.policy, new.calendar, moved, at)
    return Migration(
        advanced.state, advanced.events, fired.state, [*added, event, *fired.events], before, after
    )


def rebase(old: Versioned, new: Versioned, state: CaseState, now: datetime) -> CaseState:
    """``state`` under ``new``'s targets, every meter's working time kept (settled at ``now`` on
    the old calendar, which counted it)."""
    state = settle_all(state, now, old.calendar)
    by_name = {c.name: c for c in state.clocks}
    clocks = tuple(_carried(spec, by_name.get(spec.name), state, now) for spec in new.policy.clocks)
    priority, reason, override = state.priority, state.priority_reason, state.priority_override
    if not new.policy.supports_priority(priority):
        # An override the new version has no targets for cannot hold either: its rules decide.
        priority, reason = decide_priority(new.policy, state.attributes, now)
        override = None
    moved = replace(
        state,
        clocks=clocks,
        stage=_stage_in(new.policy, state.stage),
        priority=priority,
        priority_reason=reason,
        priority_override=override,
        updated_at=now,
    )
    return refresh(new.policy, moved, new.calendar)


def _carried(spec: ClockSpec, clock: ClockState | None, state: CaseState, now: datetime) -> ClockState:
    """The old clock of the same name as it is; a clock new to the policy starts at ``now`` (or
    waits for its ``starts_on``), if the case is still being worked."""
    if clock is not None:
        return clock
    if spec.starts_at_opening and state.status in ACTIVE_STATUSES:
        return ClockState(spec.name, ClockStatus.RUNNING, Meter(since=now), cycle=1 if spec.cycles else 0)
    return ClockState(spec.name, ClockStatus.PENDING, Meter())


def _stage_in(policy: Policy, stage: StageState) -> StageState:
    """The case's stage on the new ladder: the same id, else the same place (or the last stage)."""
    ids = [s.id for s in policy.stages]
    index = ids.index(stage.id) if stage.id in ids else min(stage.index, len(ids) - 1)
    return replace(stage, index=index, id=ids[index])


def recompute(new: Versioned, opening: Opening, now: datetime) -> tuple[CaseState, list[EngineEvent]]:
    """The case as ``new`` would have made it from the same opening and agent actions, at ``now``,
    with every event that replay produced."""
    step = cases.replay(
        new.policy,
        new.calendar,
        opening.attributes,
        opening.opened_at,
        opening.actions,
        now,
        opening.opened_by,
        opening.status,
    )
    return replace(step.state, updated_at=max(step.state.updated_at, now)), list(step.events)
