"""The garbage collector of a process that is nothing but a worker (``lifeline worker``, the benchmarks).

A sweep allocates a great many short-lived objects (rows, states, events) and almost no cycles, and
the collector's work is proportional to what it traverses, not to what it frees:

- Everything alive once the worker is ready (modules, Prefect's and SQLAlchemy's machinery, the
  parsed policies) lives as long as the process; ``gc.freeze`` moves it out of the collector's
  sight, so a full collection during a sweep no longer walks it (~20% of a batch's CPU before
  this, bench/README.md). Prefect loads much of its machinery on the first flow run (the task
  engine, the result store, the events client: ~18,000 objects that every full collection then
  walked), so the worker freezes again after its first sweep in a flow run.
- With the default thresholds (700 allocations) a sweep of 10,000 cases ran ~1,150 collections of
  the youngest generation and ~9 full ones (0.18-0.36 s of a 4-5 s sweep); at 10,000 it ran ~50
  and no full one (0.07-0.13 s), bench/README.md "2026-12-04 (night)"; at 50,000, one (~1 ms
  against 0.14-0.22 s at 10,000 on the same host: "2026-12-04 (Friday)"). A batch of 200 cases
  holds 10,000-50,000 new objects at its peak, nearly all freed when it ends: each collection at
  10,000 walked a batch's live objects only to keep them. The few reference cycles a batch leaves
  wait longer to be freed; the worker's peak memory is measured (bench/sweep.py's peak RSS).

Not for a process that hosts other work (``lifeline serve``, a test run): the full collection
before a freeze walks that process's whole heap, and what it freezes is never collected.
"""

from __future__ import annotations

import gc

#: Allocations (less deallocations) between collections of the youngest generation; the older two
#: keep Python's defaults.
YOUNG_THRESHOLD = 50_000


def freeze_long_lived() -> int:
    """Collect, then freeze what survives and raise the youngest generation's threshold. Returns
    how many objects are frozen in all. Call it when the process has built what it keeps: after
    the policies load, and again after the first flow run."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    return gc.get_freeze_count()
