"""The sweep floor's roll-up writes: what each batch of the sweep adds to the compliance roll-ups
(casework/history/rollups.py), replayed with driver-level SQL in the batch's own transaction.

The sweep keeps the roll-ups in each batch's transaction (issue 18 asks for it), so the floor, "the
same writes in raw SQL", makes them too: per batch, the same three adding upserts
(``rollup_cases``, ``rollup_escalations``, ``rollup_clocks``, rows in key order) and the same
UPDATE of the merged sketches. Not the sweep's reads (the derived rows folded before and after its
writes, the stored sketches): the floor reads nothing but its claim, as before.

What a batch adds is computed before the floor's clock runs, with the sweep's own arithmetic
(``rollups.Sums``), from the batch's cases' derived rows before the sweep (``read_inputs`` at the
snapshot) and after it: a case whose rows or group did not change adds nothing. The stored
sketches are followed batch by batch from the snapshot's rows, so each UPDATE writes the text the
sweep wrote. ``tests/bench/test_sweep_floor.py`` checks that the floor leaves the roll-up tables
exactly as the sweep left them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import SQLModel

from casework.history import quantile_sketch as sketch
from casework.history.rollups import (
    ESCALATION_COLUMNS,
    ESCALATIONS,
    OUTCOME_COLUMNS,
    OUTCOMES,
    ClockSums,
    Key,
    Sums,
    day_of,
    key_of,
)
from models.tables import OUTCOME_GROUPS, ROLLUP_CLOCKS, ROLLUP_KEY

CASES = SQLModel.metadata.tables["cases"]
_CHUNK = 500
#: The derived tables a roll-up folds: the table, the columns it reads, the ``CaseRows`` field.
_DERIVED = ((OUTCOMES, OUTCOME_COLUMNS, "outcomes"), (ESCALATIONS, ESCALATION_COLUMNS, "escalations"))
#: Statements of one batch: (driver-level SQL, parameter tuples), executed with ``executemany``.
Statements = list[tuple[str, list[tuple[Any, ...]]]]


@dataclass
class CaseRows:
    """One case's roll-up key and derived rows (``OUTCOME_COLUMNS``, ``ESCALATION_COLUMNS``)."""

    key: Key
    outcomes: list[tuple[Any, ...]] = field(default_factory=list)
    escalations: list[tuple[Any, ...]] = field(default_factory=list)


def read_inputs(engine: Engine, ids: Sequence[str]) -> dict[str, CaseRows]:
    """The roll-up inputs of the cases ``ids`` now, read through SQLAlchemy's column types (so
    ``opened_at`` and the day are the ones the sweep computes)."""
    found: dict[str, CaseRows] = {}
    keys = sa.select(CASES.c.id, CASES.c.opened_at, *(CASES.c[c] for c in OUTCOME_GROUPS))
    with engine.connect() as connection:
        for start in range(0, len(ids), _CHUNK):
            part = list(ids[start : start + _CHUNK])
            for row in connection.execute(keys.where(CASES.c.id.in_(part))):
                found[row.id] = CaseRows(key_of(row))
            for table, names, into in _DERIVED:
                query = sa.select(table.c.case_id, *(table.c[n] for n in names))
                query = query.where(table.c.case_id.in_(part)).order_by(*table.primary_key.columns)
                for case_id, *values in connection.execute(query):
                    getattr(found[case_id], into).append(tuple(values))
    return found


class RollupReplay:
    """Per batch of claimed ids, the roll-up statements the sweep's batch made (see the module)."""

    def __init__(
        self,
        sqlite: bool,
        before: dict[str, CaseRows],
        after: dict[str, CaseRows],
        stored_clocks: Sequence[dict[str, Any]],
    ) -> None:
        self.sqlite, self.before, self.after = sqlite, before, after
        self.mark = "?" if sqlite else "%s"
        #: The stored sketches by (key, clock), followed batch by batch.
        self.sketches = {
            ((_as_date(r["day"]), *(r[n] for n in OUTCOME_GROUPS)), r["clock"]): (
                sketch.decode(r["working"]),
                sketch.decode(r["wall"]),
            )
            for r in stored_clocks
        }

    def batch(self, ids: Sequence[str]) -> Statements:
        """The statements of the batch that claimed ``ids`` (the stored sketches move on)."""
        sums = Sums()
        for case_id in ids:
            was, now = self.before[case_id], self.after[case_id]
            if was.key != now.key:
                sums.add_case(was.key, -1)
                sums.add_case(now.key)
            elif was.outcomes == now.outcomes and was.escalations == now.escalations:
                continue
            for rows, sign in ((was, -1), (now, 1)):
                for row in rows.outcomes:
                    sums.add_outcome(row, sign, day_of(row[0]))
                for row in rows.escalations:
                    sums.add_escalation(row, sign, day_of(row[0]))
        return self._statements(sums)

    def _statements(self, sums: Sums) -> Statements:
        found: Statements = []
        cases = [(*self._key(k), n) for k, n in sorted(sums.cases.items()) if n]
        if cases:
            found.append((self._adder("rollup_cases", (), ("cases",)), cases))
        escalations = [
            (*self._key(k), stage, n, m) for (k, stage), (n, m) in sorted(sums.escalations.items()) if n or m
        ]
        if escalations:
            adder = self._adder("rollup_escalations", ("stage",), ("escalations", "manual"))
            found.append((adder, escalations))
        clocks = sorted((k, v) for k, v in sums.clocks.items() if not v.empty())
        if not clocks:
            return found
        adder = self._adder("rollup_clocks", ("clock",), ("met", "breached", "cycles", "missed_cycles"))
        empty = (sketch.EMPTY, sketch.EMPTY)  # the sketches are merged below, as the sweep does
        rows = [(*self._key(k), clock, *_counts(v), *empty) for (k, clock), v in clocks]
        found.append((adder, rows))
        merged = [self._merge(key, v) for key, v in clocks if any(v.working.values()) or any(v.wall.values())]
        if merged:
            where = " AND ".join(f"{n} = {self.mark}" for n in (*ROLLUP_KEY, "clock"))
            sets = f"working = {self.mark}, wall = {self.mark}"
            found.append((f"UPDATE {ROLLUP_CLOCKS.name} SET {sets} WHERE {where}", merged))
        return found

    def _merge(self, key: tuple[Key, str], sums: ClockSums) -> tuple[Any, ...]:
        working, wall = self.sketches.setdefault(key, ({}, {}))
        sketch.merge(working, sums.working)
        sketch.merge(wall, sums.wall)
        return (sketch.encode(working), sketch.encode(wall), *self._key(key[0]), key[1])

    def _key(self, key: Key) -> tuple[Any, ...]:
        day, *groups = key
        return (day.isoformat() if self.sqlite else day, *groups)

    def _adder(self, table: str, more: tuple[str, ...], counts: tuple[str, ...]) -> str:
        """The sweep's ``_adder``: insert the row, or add its counts (a clock row's sketches last)."""
        fixed = ("working", "wall") if table == ROLLUP_CLOCKS.name else ()
        names = (*ROLLUP_KEY, *more, *counts, *fixed)
        adds = ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in counts)
        return (
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(self.mark for _ in names)}) "
            f"ON CONFLICT ({', '.join((*ROLLUP_KEY, *more))}) DO UPDATE SET {adds}"
        )


def _counts(sums: ClockSums) -> tuple[int, int, int, int]:
    return (sums.met, sums.breached, sums.cycles, sums.missed_cycles)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
