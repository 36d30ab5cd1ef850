"""Choosing a case's priority: the agent's override, else the first rule that holds, else default."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from policies.model import Policy
from sla_engine.conditions import holds


def decide_priority(
    policy: Policy, attributes: Mapping[str, Any], now: datetime, override: str | None = None
) -> tuple[str, str]:
    """(priority, reason). The reason is what an agent sees as "why": the override, the rule
    (its index and description) or the default."""
    if override is not None:
        return override, "set by hand"
    for rule in policy.priority.rules:
        if holds(rule.condition, attributes, now):
            label = f"rule {rule.index + 1}"
            if rule.description:
                label += f": {rule.description}"
            return rule.then, label
    return policy.priority.default, "policy default"
