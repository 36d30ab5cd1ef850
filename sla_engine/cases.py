"""The engine's entry points: open a case, apply an agent action, advance timers to ``now``, replay.

Every function is pure: (policy, calendar, state, input) -> Step(new state, events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from policies.model import Policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.events import AgentAction, Step


def open_case(
    policy: Policy, calendar: BusinessCalendar, attributes: Mapping[str, Any], opened_at: datetime, actor: str
) -> Step:
    """A new case at ``opened_at``: stage 0, priority from the rules, every clock running."""
    raise NotImplementedError


def advance(policy: Policy, calendar: BusinessCalendar, state: Any, now: datetime) -> Step:
    """Fire, in order, every timer due at or before ``now``; events carry their deadlines as ``at``."""
    raise NotImplementedError


def apply_action(policy: Policy, calendar: BusinessCalendar, state: Any, action: AgentAction) -> Step:
    """Advance to ``action.at`` (timers due by then fire first), then apply the action.

    Raises ``ForbiddenTransition`` if the state machine forbids it, ``InvalidAction`` for bad args.
    """
    raise NotImplementedError


def replay(
    policy: Policy,
    calendar: BusinessCalendar,
    attributes: Mapping[str, Any],
    opened_at: datetime,
    actions: Sequence[AgentAction],
    now: datetime,
    opened_by: str = "system",
) -> Step:
    """Fold a whole history: open, then each action in order, then advance to ``now``."""
    raise NotImplementedError
