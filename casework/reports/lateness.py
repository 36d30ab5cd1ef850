"""How late breaches were recorded: the distribution of ``detected_at - due_at`` (the API's
``lateness_seconds`` of a breach) for the breaches whose deadline falls in a period, in buckets.

A breach is recorded by the worker at (or, when it was behind, after) the deadline; this shows an
auditor at a glance whether escalations happened when the policy said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from models.tables import Breach

#: Upper bounds (seconds, exclusive) of the buckets; the last bucket is "at least the last edge".
EDGES: tuple[float, ...] = (1, 5, 30, 60, 300, 3600)
MAX_ROWS = 200_000


@dataclass(frozen=True)
class Bucket:
    low: float
    high: float | None
    count: int

    @property
    def label(self) -> str:
        def text(seconds: float) -> str:
            return f"{seconds:g} s" if seconds < 60 else f"{seconds / 60:g} min"

        if self.high is None:
            return f"≥ {text(self.low)}"
        return f"{text(self.low)} – {text(self.high)}" if self.low else f"< {text(self.high)}"


def lateness_histogram(
    session: Session, start: datetime, end: datetime, edges: Sequence[float] = EDGES
) -> list[Bucket]:
    """Breaches with ``due_at`` in ``[start, end)`` counted by lateness bucket (at most MAX_ROWS read)."""
    query = (
        select(Breach.due_at, Breach.detected_at)
        .where(col(Breach.due_at) >= start, col(Breach.due_at) < end)
        .limit(MAX_ROWS)
    )
    counts = [0] * (len(edges) + 1)
    for due_at, detected_at in session.exec(query):
        late = (detected_at - due_at).total_seconds()
        index = next((i for i, edge in enumerate(edges) if late < edge), len(edges))
        counts[index] += 1
    lows = (0.0, *edges)
    highs: tuple[float | None, ...] = (*edges, None)
    return [Bucket(low, high, n) for low, high, n in zip(lows, highs, counts, strict=True)]
