"""Turning a schema-valid, lint-clean policy document into the frozen objects of ``policies.model``.

Only :mod:`policies.loader` calls this, after the schema and the lint found no error; given such a
document it cannot fail. The canonical JSON (sorted keys, compact separators, UTF-8 kept) and its
SHA-256 are what the registry versions a policy by.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from policies.durations import parse_duration
from policies.model import (
    DEFAULT_STARTS_ON,
    DEFAULT_STOPS_ON,
    ActionKind,
    AllOf,
    AnyOf,
    ClockKind,
    ClockSpec,
    Compare,
    Condition,
    Not,
    NotAfter,
    Op,
    Policy,
    PolicyAction,
    PriorityPolicy,
    PriorityRule,
    StageSpec,
    Target,
)


def canonical_json(doc: Any) -> str:
    """The one text a document hashes to, whatever its whitespace and key order in the file."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def build_policy(doc: Mapping[str, Any]) -> Policy:
    text = canonical_json(doc)
    return Policy(
        id=doc["id"],
        title=doc["title"],
        incident_type=doc["incident_type"],
        calendar=doc["calendar"],
        priority=_priority(doc["priority"]),
        clocks=tuple(_clock(name, spec) for name, spec in doc["clocks"].items()),
        stages=tuple(_stage(spec) for spec in doc["stages"]),
        description=doc.get("description"),
        on_child_breach=doc.get("on_child_breach", "none"),
        canonical_json=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def build_condition(doc: Mapping[str, Any]) -> Condition:
    if "all" in doc:
        return AllOf(tuple(build_condition(item) for item in doc["all"]))
    if "any" in doc:
        return AnyOf(tuple(build_condition(item) for item in doc["any"]))
    if "not" in doc:
        return Not(build_condition(doc["not"]))
    op = Op(doc["op"])
    return Compare(doc["field"], op, _condition_value(op, doc.get("value")))


def _condition_value(op: Op, value: Any) -> Any:
    """Values become immutable: lists -> tuples, objects -> sorted item tuples; ``within`` -> timedelta."""
    if op is Op.WITHIN:
        return parse_duration(value)
    return _frozen(value)


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def _priority(doc: Mapping[str, Any]) -> PriorityPolicy:
    rules = tuple(
        PriorityRule(build_condition(rule["if"]), rule["then"], i, rule.get("description"))
        for i, rule in enumerate(doc.get("rules", []))
    )
    return PriorityPolicy(doc["default"], rules)


def build_target(doc: str | Mapping[str, str]) -> Target:
    if isinstance(doc, str):
        return Target(single=parse_duration(doc))
    return Target(by_priority={p: parse_duration(d) for p, d in sorted(doc.items())})


def _actions(items: list[Mapping[str, str]]) -> tuple[PolicyAction, ...]:
    built = []
    for item in items:
        ((kind, value),) = item.items()
        built.append(PolicyAction(ActionKind(kind), value))
    return tuple(built)


def _clock(name: str, doc: Mapping[str, Any]) -> ClockSpec:
    not_after = doc.get("not_after")
    kind = ClockKind(doc.get("kind", ClockKind.ELAPSED))
    return ClockSpec(
        name=name,
        target=build_target(doc["target"]),
        kind=kind,
        starts_on=frozenset(doc["starts_on"]) if "starts_on" in doc else DEFAULT_STARTS_ON[kind],
        stops_on=frozenset(doc["stops_on"]) if "stops_on" in doc else DEFAULT_STOPS_ON[kind],
        pauses_on=frozenset(doc.get("pauses_on", ())),
        on_warn=_actions(doc.get("on_warn", [])),
        warn_at=float(doc["warn_at"]) if "warn_at" in doc else None,
        not_after=None if not_after is None else NotAfter(not_after["field"], _margin(not_after)),
        on_breach=_actions(doc.get("on_breach", [])),
        title=doc.get("title"),
        description=doc.get("description"),
    )


def _margin(doc: Mapping[str, str]) -> timedelta:
    return parse_duration(doc["margin"]) if "margin" in doc else timedelta(0)


def _stage(doc: Mapping[str, Any]) -> StageSpec:
    every = doc.get("repeat_notify_every")
    return StageSpec(
        id=doc["id"],
        queue=doc["queue"],
        escalate_after=build_target(doc["escalate_after"]) if "escalate_after" in doc else None,
        on_enter=_actions(doc.get("on_enter", [])),
        on_breach=_actions(doc.get("on_breach", [])),
        repeat_notify_every=parse_duration(every) if every is not None else None,
        pauses_on=frozenset(doc["pauses_on"]) if "pauses_on" in doc else None,
        title=doc.get("title"),
        description=doc.get("description"),
    )
