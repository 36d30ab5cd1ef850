"""A mergeable quantile sketch of durations in microseconds, for the compliance roll-ups.

The bins are DDSketch's (the ``ddsketch`` package's ``LogarithmicMapping``, relative accuracy
``RELATIVE_ACCURACY``): a value ``x > 0`` goes to the bin ``key(x)``, and ``value(key)`` is within
1% of every value of that bin; zero has a bin of its own (value 0, exact). A sketch is a count per
bin, so merging two sketches adds their counts and taking a value out subtracts one from its bin:
the roll-ups remove a clock's old stop when a reopened case stops it again, or when a case moves to
another group. Counts stay exact; only the values are approximated.

``quantile`` reads the report's percentile the way the exact scan does (casework.reports.
compliance_report: linear interpolation between the two ranks around ``(n - 1) * p / 100``), taking
each rank's bin value: each of the two is within 1% of the exact order statistic, so their
interpolation is within 1% of the exact answer (all values are non-negative).

Stored as text, a flat JSON array ``[zero_count, key, count, key, count, ...]`` (the JSON parser
reads a flat integer array fastest).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from ddsketch.mapping import LogarithmicMapping

RELATIVE_ACCURACY = 0.01
_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)
#: The bin of zero (no key of a positive value of whole microseconds is negative).
ZERO = -1
EMPTY = "[0]"


def bin_of(micros: int) -> int:
    """The bin a duration of ``micros`` (whole microseconds, >= 0) counts in."""
    return ZERO if micros <= 0 else int(_MAPPING.key(float(micros)))


def bin_value(key: int) -> float:
    """The value (microseconds) a bin stands for: within RELATIVE_ACCURACY of each value in it."""
    return 0.0 if key == ZERO else float(_MAPPING.value(key))


def add(bins: dict[int, int], micros: Iterable[int], sign: int = 1) -> None:
    """Count ``micros`` into ``bins`` (``sign`` -1 takes them out)."""
    for value in micros:
        key = bin_of(value)
        bins[key] = bins.get(key, 0) + sign


def merge(bins: dict[int, int], other: dict[int, int], sign: int = 1) -> None:
    """Add the counts of ``other`` to ``bins`` (``sign`` -1 subtracts them)."""
    for key, count in other.items():
        bins[key] = bins.get(key, 0) + sign * count


def decode(text: str | None) -> dict[int, int]:
    """The bins of a stored sketch."""
    flat: list[int] = json.loads(text) if text else [0]
    bins = dict(zip(flat[1::2], flat[2::2], strict=True))
    if flat[0]:
        bins[ZERO] = flat[0]
    return bins


def merge_text(bins: dict[int, int], text: str | None) -> None:
    """``merge`` a stored sketch into ``bins`` without building its dict first (the report's loop)."""
    if not text:
        return
    flat: list[int] = json.loads(text)
    get = bins.get
    if flat[0]:
        bins[ZERO] = get(ZERO, 0) + flat[0]
    for i in range(1, len(flat), 2):
        key = flat[i]
        bins[key] = get(key, 0) + flat[i + 1]


def encode(bins: dict[int, int]) -> str:
    """The stored text of ``bins`` (empty bins left out, keys in order)."""
    flat: list[Any] = [bins.get(ZERO, 0)]
    for key in sorted(k for k, count in bins.items() if count and k != ZERO):
        flat += (key, bins[key])
    return json.dumps(flat, separators=(",", ":"))


def count(bins: dict[int, int]) -> int:
    return sum(bins.values())


def quantile(bins: dict[int, int], p: float) -> float | None:
    """The ``p``-th percentile in seconds (None when empty), interpolated as the exact report's."""
    ordered = sorted((k, c) for k, c in bins.items() if c > 0)
    total = sum(c for _, c in ordered)
    if not total:
        return None
    position = (total - 1) * p / 100
    low, high = _at_rank(ordered, math.floor(position)), _at_rank(ordered, math.ceil(position))
    return (low + (high - low) * (position - math.floor(position))) / 10**6


def _at_rank(ordered: list[tuple[int, int]], rank: int) -> float:
    """The bin value of the ``rank``-th smallest value (0-based)."""
    seen = 0
    for key, count_ in ordered:
        seen += count_
        if rank < seen:
            return bin_value(key)
    return bin_value(ordered[-1][0])
