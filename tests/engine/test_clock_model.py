"""A hypothesis state machine drives one case through random agent actions and time jumps and
checks, after every step, the engine's clocks against a reference model written from the rules
of docs/policy-language.md alone (issue 17, item 9).

The model is deliberately simple: a 24x7 calendar and fixed targets, so a clock is elapsed running
time against its target. A clock runs from opening, pauses while the status is in its
``pauses_on``, stops for good on a ``stops_on`` status, stops on resolved or closed and resumes on
reopen (only if that stopped it), and breaches once, at its deadline, exactly when it was running
then; the deadline of a breached clock stays the one it missed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from policies.model import StageSpec
from sla_engine.cases import advance, apply_action, open_case
from sla_engine.events import AgentAction, EngineEvent
from sla_engine.kinds import ActionName, ClockStatus, EventKind, Status
from sla_engine.state import CaseState
from sla_engine.transitions import TRANSITIONS
from tests.engine.builders import ALWAYS_CAL, T0, make_policy, notify, target

FIRST_RESPONSE = timedelta(hours=1)
RESOLUTION = timedelta(hours=6)
POLICY = make_policy(
    first_response="PT1H",
    resolution="PT6H",
    stages=(
        StageSpec("frontline", "creator-support", target("PT2H")),
        StageSpec("security", "security-specialists", target("PT4H"), on_enter=(notify("security-oncall"),)),
        StageSpec("lead", "tns-leads", None),
    ),
)

#: Where each action takes the case (the model's own copy of the status rules it needs).
MOVES = {
    ActionName.ACKNOWLEDGE: Status.ACKNOWLEDGED,
    ActionName.START: Status.IN_PROGRESS,
    ActionName.REQUEST_INFO: Status.WAITING_ON_CREATOR,
    ActionName.CREATOR_REPLIED: Status.IN_PROGRESS,
    ActionName.RESOLVE: Status.RESOLVED,
    ActionName.REOPEN: Status.OPEN,
    ActionName.CLOSE: Status.CLOSED,
}
#: Actions that move the case only from one status (elsewhere they leave it where it is).
ONLY_FROM = {ActionName.ACKNOWLEDGE: Status.OPEN, ActionName.CREATOR_REPLIED: Status.WAITING_ON_CREATOR}


def moves_to(status: Status, action: ActionName) -> Status:
    if action in ONLY_FROM and status is not ONLY_FROM[action]:
        return status
    return MOVES.get(action, status)


ARGS = {ActionName.NOTE: {"text": "called"}, ActionName.ASSIGN: {"assignee": "ana"}}
ENDED = {Status.RESOLVED, Status.CLOSED}


@dataclass
class ModelClock:
    target: timedelta
    stops_on: frozenset[str]
    pauses_on: frozenset[str]
    elapsed: timedelta = timedelta(0)
    running_since: datetime | None = None
    stopped_by: Status | None = None
    breached_at: datetime | None = None

    @property
    def status(self) -> ClockStatus:
        if self.stopped_by is not None:
            return ClockStatus.STOPPED
        return ClockStatus.RUNNING if self.running_since is not None else ClockStatus.PAUSED

    def due(self) -> datetime | None:
        if self.breached_at is not None:
            return self.breached_at
        if self.running_since is None:
            return None
        return self.running_since + (self.target - self.elapsed)

    def run_until(self, now: datetime) -> None:
        """Breach at the deadline if it falls by ``now`` while running."""
        due = self.due()
        if self.breached_at is None and due is not None and due <= now:
            self.breached_at = due

    def _hold(self, at: datetime) -> None:
        if self.running_since is not None:
            self.elapsed += at - self.running_since
            self.running_since = None

    def on_status(self, new: Status, at: datetime) -> None:
        if self.stopped_by is not None:
            if self.stopped_by in ENDED and new not in ENDED:
                self.stopped_by = None
                self.running_since = None if new in self.pauses_on else at
            return
        if new in ENDED or new in self.stops_on:
            self._hold(at)
            self.stopped_by = new
        elif new in self.pauses_on:
            self._hold(at)
        elif self.running_since is None:
            self.running_since = at


class ClockModelMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        step = open_case(POLICY, ALWAYS_CAL, {}, T0, "agent:ana")
        self.state: CaseState = step.state
        self.events: list[EngineEvent] = list(step.events)
        self.now = T0
        self.status = Status.OPEN
        self.model = {
            spec.name: ModelClock(spec.target.single or timedelta(0), spec.stops_on, spec.pauses_on)
            for spec in POLICY.clocks
        }
        for clock in self.model.values():
            clock.running_since = T0

    def _run_model_until(self, now: datetime) -> None:
        for clock in self.model.values():
            clock.run_until(now)

    @rule(minutes=st.integers(min_value=0, max_value=8 * 60))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self._advance_engine()

    @rule()
    def time_reaches_the_next_deadline(self) -> None:
        """Exactly to the model's nearest pending deadline: a timer due at ``now`` fires."""
        pending = [c.due() for c in self.model.values() if c.breached_at is None and c.due() is not None]
        if pending:
            self.now = max(self.now, min(d for d in pending if d is not None))
            self._advance_engine()

    def _advance_engine(self) -> None:
        step = advance(POLICY, ALWAYS_CAL, self.state, self.now)
        self.state = step.state
        self.events.extend(step.events)
        self._run_model_until(self.now)

    @rule(data=st.data(), minutes=st.integers(min_value=0, max_value=3 * 60))
    def agent_acts(self, data: st.DataObject, minutes: int) -> None:
        allowed = sorted(a for a in TRANSITIONS[self.status] if a in MOVES or a in ARGS)
        if not allowed:
            return
        name = data.draw(st.sampled_from(allowed), label="action")
        self.now += timedelta(minutes=minutes)
        action = AgentAction(name, self.now, "agent:ana", dict(ARGS.get(name, {})))
        step = apply_action(POLICY, ALWAYS_CAL, self.state, action)
        self.state = step.state
        self.events.extend(step.events)
        self._run_model_until(self.now)
        new = moves_to(self.status, name)
        if new is not self.status:
            self.status = new
            for clock in self.model.values():
                clock.on_status(self.status, self.now)

    @invariant()
    def status_agrees(self) -> None:
        assert self.state.status == self.status

    @invariant()
    def clocks_agree_with_the_model(self) -> None:
        for clock in self.state.clocks:
            expected = self.model[clock.name]
            assert clock.status == expected.status, clock.name
            assert clock.breached_at == expected.breached_at, clock.name
            if clock.status is ClockStatus.RUNNING or clock.breached_at is not None:
                assert clock.due_at == expected.due(), clock.name
            else:
                assert clock.due_at is None, clock.name

    @invariant()
    def each_breach_is_recorded_once_at_its_deadline(self) -> None:
        breaches = [e for e in self.events if e.kind is EventKind.BREACHED and "clock" in e.data]
        recorded = {str(e.data["clock"]): e.at for e in breaches}
        assert len(recorded) == len(breaches)
        expected = {name: c.breached_at for name, c in self.model.items() if c.breached_at is not None}
        assert recorded == expected


#: 60 histories in CI (derandomized by the loaded profile); ``HYPOTHESIS_PROFILE=long`` runs 600.
EXAMPLES = 600 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 60
ClockModelMachine.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=25, deadline=None)
test_clocks_follow_the_reference_model = ClockModelMachine.TestCase
