"""Evaluating the priority rules' conditions against a case's attributes.

A condition is data (policies.model.Condition), never code. Fields are dotted paths into the
attributes; a missing field makes every comparison but ``exists`` false, so a rule about a field
the platform did not send never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from policies.model import AllOf, AnyOf, Compare, Condition, Not, Op

_MISSING = object()


def get_field(attributes: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path`` in ``attributes``, or the module's _MISSING sentinel."""
    value: Any = attributes
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING


def parse_instant(value: Any) -> datetime | None:
    """An attribute as an aware datetime (ISO 8601 string or datetime), else None."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any, datetime], bool]:
    def compare(actual: Any, expected: Any, now: datetime) -> bool:
        left, right = actual, expected
        if parse_instant(actual) is not None and parse_instant(expected) is not None:
            left, right = parse_instant(actual), parse_instant(expected)
        try:
            return bool(op(left, right))
        except TypeError:
            return False

    return compare


def _within(actual: Any, expected: Any, now: datetime) -> bool:
    instant = parse_instant(actual)
    if instant is None or not isinstance(expected, timedelta):
        return False
    return now <= instant <= now + expected


_COMPARISONS: dict[Op, Callable[[Any, Any, datetime], bool]] = {
    Op.EQ: lambda a, e, now: bool(a == e),
    Op.NE: lambda a, e, now: bool(a != e),
    Op.IN: lambda a, e, now: isinstance(e, list | tuple) and a in e,
    Op.NOT_IN: lambda a, e, now: isinstance(e, list | tuple) and a not in e,
    Op.GT: _ordered(lambda a, e: a > e),
    Op.GTE: _ordered(lambda a, e: a >= e),
    Op.LT: _ordered(lambda a, e: a < e),
    Op.LTE: _ordered(lambda a, e: a <= e),
    Op.WITHIN: _within,
}


def holds(condition: Condition, attributes: Mapping[str, Any], now: datetime) -> bool:
    """Whether ``condition`` holds for ``attributes`` at instant ``now`` (``within`` needs now)."""
    if isinstance(condition, AllOf):
        return all(holds(c, attributes, now) for c in condition.items)
    if isinstance(condition, AnyOf):
        return any(holds(c, attributes, now) for c in condition.items)
    if isinstance(condition, Not):
        return not holds(condition.item, attributes, now)
    return _compare(condition, attributes, now)


def frozen(value: Any) -> Any:
    """An attribute in the immutable form the loader gives condition values (lists -> tuples,
    objects -> sorted item tuples), so ``eq`` and ``in`` compare like with like."""
    if isinstance(value, list | tuple):
        return tuple(frozen(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((k, frozen(v)) for k, v in value.items()))
    return value


def _compare(condition: Compare, attributes: Mapping[str, Any], now: datetime) -> bool:
    actual = frozen(get_field(attributes, condition.field))
    if condition.op is Op.EXISTS:
        wanted = True if condition.value is None else bool(condition.value)
        return (not is_missing(actual) and actual is not None) == wanted
    if is_missing(actual):
        return False
    return _COMPARISONS[condition.op](actual, condition.value, now)
