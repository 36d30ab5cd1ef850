"""What a sweep did, summed over its batches: the flow's result, the worker's log line, the benchmarks'
counts. Its own module so that the sweep's lane processes (flows.sweep_lanes) return it too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from casework.history.case_changes import C, Change


@dataclass
class SweepCounts:
    """What a sweep did. Lateness is ``recorded_at - at`` of the events it wrote (timed events carry
    their deadline as ``at``), in seconds."""

    batches: int = 0
    cases: int = 0
    changed_cases: int = 0
    events: int = 0
    breaches: int = 0
    notifications: int = 0
    max_lateness_seconds: float = 0.0
    total_lateness_seconds: float = 0.0

    @classmethod
    def of_batch(cls, claimed: int, changes: Sequence[Change[C]]) -> SweepCounts:
        counts = cls(batches=1, cases=claimed, changed_cases=len(changes))
        for change in changes:
            counts.events += len(change.events)
            counts.breaches += len(change.breaches)
            counts.notifications += len(change.notifications)
            for event in change.events:
                late = (event.recorded_at - event.at).total_seconds()
                counts.max_lateness_seconds = max(counts.max_lateness_seconds, late)
                counts.total_lateness_seconds += late
        return counts

    def add(self, other: SweepCounts) -> None:
        for name in ("batches", "cases", "changed_cases", "events", "breaches", "notifications"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_lateness_seconds = max(self.max_lateness_seconds, other.max_lateness_seconds)
        self.total_lateness_seconds += other.total_lateness_seconds

    def to_dict(self) -> dict[str, float]:
        result: dict[str, float] = asdict(self)
        result["mean_lateness_seconds"] = self.total_lateness_seconds / self.events if self.events else 0.0
        return result
