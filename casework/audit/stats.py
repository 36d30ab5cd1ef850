"""Order statistics for reports and audits: median, p90, p99 of a list of seconds.

Percentiles interpolate linearly between the two nearest ranks (the "inclusive" method of
``statistics.quantiles`` and numpy's default): for sorted values v[0..n-1] the p-th percentile sits
at position (n - 1) * p / 100. So the median of [1, 2, 3, 4] is 2.5 and its p90 is 3.7. Hand
computations in tests and in docs/auditing.md use this rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile (0..100) of ``values``; None for an empty list."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = math.ceil(position)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def summary(values: Sequence[float], points: Sequence[int] = (50, 90)) -> dict[str, float | None]:
    """``{"p50": ..., "p90": ...}`` (keys named after ``points``), None when there are no values."""
    return {f"p{p}": _round(percentile(values, p)) for p in points}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
