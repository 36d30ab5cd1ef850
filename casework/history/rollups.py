"""The compliance roll-ups, kept in the events' transaction so the compliance report of a month
merges a few rows per day and group instead of scanning every case (casework.reports.rollup_report).

Three tables (models.tables), keyed by the UTC day the cases opened and the report's groups
(policy id and version, incident type, priority, queue):

- ``rollup_cases``: the cases opened;
- ``rollup_clocks`` (per clock as well): ``met``, ``breached``, ``cycles``, ``missed_cycles``, the
  sums of the ``clock_outcomes`` rows of those cases, exact; ``working`` and ``wall``: the stops'
  durations as quantile sketches (casework.history.quantile_sketch, 1% relative accuracy);
- ``rollup_escalations`` (per stage entered as well, '' when the event names none): escalations
  and those made by hand, the ``case_escalations`` rows counted.

A row is what its source rows contribute, so a change is kept as a difference: ``write_outcomes``
(casework.history.clock_outcomes, the one place both write paths fold a case's events into its
derived rows) reads the touched cases' ``clock_outcomes`` and ``case_escalations`` rows before and
after its writes (``Snapshot``) and adds (after - before) to the roll-ups; a case's count moves
when its group changes (an opening adds it; a policy migration moves it to the new version).
Whatever the derived rows become (a stop replaced after a reopen, a breach after a stop, a case
moved to another priority or queue), the roll-ups follow them, never a copy of their rules.

Concurrency (PostgreSQL, several workers updating the rows of the same day and group): counts are
added by ``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n``, which also locks each row
until the transaction ends; rows are upserted in key order, so two transactions lock shared rows
in the same order (no deadlock). A case a transaction will escalate after its writes (a parent of
a breached child) is locked before them (casework.links.child_breach.lock_parents), so no
transaction waits for a parent case while holding roll-up rows. The sketches are then read
(``SELECT ... FOR UPDATE``, a lock the transaction already holds), merged in Python and written
back: no other transaction can change those rows in between, so no update is lost. The cost is
that writers touching the same roll-up row queue behind each other's commit, as they already do
on a case's row; append-only sketch rows merged at read would avoid that but make reads slower
until compacted. On SQLite the one writer holds the database from its first write, so the same
steps are safe.

``rebuild`` (``lifeline reports rebuild``, migration 0011) recomputes every row from the derived
tables, the same sums.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlmodel import SQLModel

from casework.history import quantile_sketch as sketch
from casework.history.driver_binds import executemany
from models.tables import OUTCOME_GROUPS, ROLLUP_CASES, ROLLUP_CLOCKS, ROLLUP_ESCALATIONS, ROLLUP_KEY
from sla_engine.kinds import EventKind

OUTCOMES = SQLModel.metadata.tables["clock_outcomes"]
ESCALATIONS = SQLModel.metadata.tables["case_escalations"]
#: The events after which a case's derived rows may change (its clocks decided, its group moved).
_TOUCHING = frozenset(
    {
        EventKind.BREACHED,
        EventKind.CLOCK_STOPPED,
        EventKind.PRIORITY_CHANGED,
        EventKind.QUEUE_CHANGED,
        EventKind.ESCALATED,
    }
)
_CHUNK = 500

Key = tuple[Any, ...]  # (day, policy_id, policy_version, incident_type, priority, queue)


def day_of(opened_at: datetime) -> date:
    return (opened_at if opened_at.tzinfo is UTC else opened_at.astimezone(UTC)).date()


_GROUPS = operator.attrgetter(*OUTCOME_GROUPS)


def key_of(row: Any) -> Key:
    """The roll-up key of a row (or case) with ``opened_at`` and the group columns (a sweep's
    batch keys each case and each derived row it reads: one attrgetter, not a generator)."""
    return (day_of(row.opened_at), *_GROUPS(row))


@dataclass
class ClockSums:
    met: int = 0
    breached: int = 0
    cycles: int = 0
    missed_cycles: int = 0
    working: dict[int, int] = field(default_factory=dict)
    wall: dict[int, int] = field(default_factory=dict)

    def empty(self) -> bool:
        counts = (self.met, self.breached, self.cycles, self.missed_cycles)
        return not any(counts) and not any(self.working.values()) and not any(self.wall.values())


@dataclass
class Sums:
    """Roll-up rows (or differences to add to them), by key."""

    cases: dict[Key, int] = field(default_factory=dict)
    clocks: dict[tuple[Key, str], ClockSums] = field(default_factory=dict)
    escalations: dict[tuple[Key, str], list[int]] = field(default_factory=dict)

    def add_case(self, key: Key, sign: int = 1) -> None:
        self.cases[key] = self.cases.get(key, 0) + sign

    def add_outcome(self, row: Sequence[Any], sign: int = 1, day: date | None = None) -> None:
        """What one ``clock_outcomes`` row contributes (as the exact report counts it); ``row``
        holds ``OUTCOME_COLUMNS`` in order, ``day`` the day of its ``opened_at`` when the caller
        has it (``Snapshot._fold`` reads it with the row)."""
        _, *groups, clock, breached, stop_seq, working, wall, cycles, missed = row
        sums = self.clocks.setdefault(((day or day_of(row[0]), *groups), clock), ClockSums())
        stopped = stop_seq is not None
        sums.breached += sign * bool(breached)
        sums.met += sign * (stopped and not breached)
        sums.cycles += sign * (cycles or 0)
        sums.missed_cycles += sign * (missed or 0)
        if stopped:
            sketch.add(sums.working, [working or 0], sign)
            sketch.add(sums.wall, [wall or 0], sign)

    def add_escalation(self, row: Sequence[Any], sign: int = 1, day: date | None = None) -> None:
        """What one ``case_escalations`` row contributes; ``row`` holds ``ESCALATION_COLUMNS``."""
        _, *groups, stage, manual = row
        counts = self.escalations.setdefault(((day or day_of(row[0]), *groups), stage or ""), [0, 0])
        counts[0] += sign
        counts[1] += sign * bool(manual)


class Snapshot:
    """The touched cases' derived rows before the writes, and what the cases' groups were."""

    def __init__(
        self,
        connection: sa.Connection,
        changes: Sequence[tuple[Any, Sequence[Any]]],
        before: Sequence[Mapping[str, Any]],
    ) -> None:
        self.sums = Sums()
        self.ids: list[str] = []
        for (case, events), previous in zip(changes, before, strict=True):
            now = key_of(case)
            kinds = {event.kind for event in events}
            if EventKind.OPENED in kinds:
                was = now
                self.sums.add_case(now)
            else:
                was = _group_before(case, events, previous, now[0])
            if was != now:
                self.sums.add_case(was, -1)
                self.sums.add_case(now)
            if was != now or kinds & _TOUCHING:
                self.ids.append(case.id)
        self._fold(connection, -1)

    def _fold(self, connection: sa.Connection, sign: int) -> None:
        """Add (``sign`` 1) or take away (-1) what the touched cases' derived rows contribute."""
        read = _reader(connection.dialect)
        add_outcome, add_escalation = self.sums.add_outcome, self.sums.add_escalation
        for chunk in range(0, len(self.ids), _CHUNK):
            ids = self.ids[chunk : chunk + _CHUNK]
            for row, day in read(connection, OUTCOMES, ids):
                add_outcome(row, sign, day)
            for row, day in read(connection, ESCALATIONS, ids):
                add_escalation(row, sign, day)

    def write(self, connection: sa.Connection) -> None:
        """After the writes: add (after - before) to the roll-ups."""
        self._fold(connection, 1)
        write_sums(connection, self.sums)


#: The columns a fold reads of each derived table, in the order ``Sums.add_outcome`` and
#: ``add_escalation`` take them (``rebuild`` selects the same).
OUTCOME_COLUMNS = ("opened_at", *OUTCOME_GROUPS, "clock", "breached", "stop_seq", "working_micros",
                   "wall_micros", "cycles", "missed_cycles")  # fmt: skip
ESCALATION_COLUMNS = ("opened_at", *OUTCOME_GROUPS, "stage", "manual")
_FOLDED = {OUTCOMES.name: OUTCOME_COLUMNS, ESCALATIONS.name: ESCALATION_COLUMNS}

#: The derived rows of some cases as read: (the row's ``_FOLDED`` values, the day it opened).
Folded = list[tuple[Sequence[Any], date]]


@functools.lru_cache(maxsize=16)  # per engine's dialect: bounded, as a test run makes hundreds
def _reader(dialect: Dialect) -> Callable[[sa.Connection, sa.Table, list[str]], Folded]:
    """How a fold reads the rows of its cases on ``dialect``. On SQLite and PostgreSQL the SELECT
    is sent as the driver's text, built once per table (and, on SQLite, per count of ids): a
    sweep's batch folds its ~200 cases' rows twice, and SQLAlchemy building and expanding an
    ``IN`` of 200 binds each time, then a ``Row`` per row, was ~half of the folds' time
    (bench/README.md, "2026-12-04 (night)"). The values are the driver's: only ``opened_at`` needs
    its column type's processing (its day is the roll-up's), and it gets it, so the day is the
    one SQLAlchemy would give. (Lifeline runs on these two databases only: models.db.)"""
    opened = cast(
        "Callable[[Any], datetime] | None", OUTCOMES.c.opened_at.type._cached_result_processor(dialect, None)
    )

    def read(connection: sa.Connection, table: sa.Table, ids: list[str]) -> Folded:
        if dialect.name == "sqlite":
            rows = connection.exec_driver_sql(_sqlite_text(table.name, len(ids)), tuple(ids))
        else:
            rows = connection.exec_driver_sql(_postgresql_text(table.name), {"ids": ids})
        found = rows.fetchall()
        if opened is None:
            return [(row, day_of(row[0])) for row in found]
        return [(row, day_of(opened(row[0]))) for row in found]

    return read


@functools.lru_cache(maxsize=2 * _CHUNK)
def _sqlite_text(table: str, count: int) -> str:
    return f"SELECT {', '.join(_FOLDED[table])} FROM {table} WHERE case_id IN ({', '.join('?' * count)})"


@functools.cache
def _postgresql_text(table: str) -> str:
    return f"SELECT {', '.join(_FOLDED[table])} FROM {table} WHERE case_id = ANY(%(ids)s)"


def _group_before(case: Any, events: Sequence[Any], previous: Mapping[str, Any], day: date) -> Key:
    """The case's key before the change: the columns it changed from ``previous``; the policy
    version from a ``policy_migrated`` event's ``from`` (casework.migration sets the case's version
    before writing that event, so ``previous`` holds the new one)."""
    values = {name: previous.get(name, getattr(case, name)) for name in OUTCOME_GROUPS}
    migrated = next((e for e in events if e.kind is EventKind.POLICY_MIGRATED), None)
    if migrated is not None:
        values["policy_version"] = migrated.data["from"]
    return (day, *values.values())


def write_sums(connection: sa.Connection, sums: Sums) -> None:
    """Add ``sums`` to the stored roll-ups (rows created as needed), in key order."""
    dialect = connection.dialect.name
    cases = [_key_values(k) | {"cases": n} for k, n in sorted(sums.cases.items()) if n]
    if cases:
        executemany(connection, _adder(dialect, "rollup_cases"), cases)
    escalations = [
        _key_values(k) | {"stage": stage, "escalations": n, "manual": m}
        for (k, stage), (n, m) in sorted(sums.escalations.items())
        if n or m
    ]
    if escalations:
        executemany(connection, _adder(dialect, "rollup_escalations"), escalations)
    clocks = sorted((k, v) for k, v in sums.clocks.items() if not v.empty())
    if not clocks:
        return
    executemany(
        connection,
        _adder(dialect, "rollup_clocks"),
        [
            _key_values(k) | {"clock": clock, "met": v.met, "breached": v.breached, "cycles": v.cycles,
                              "missed_cycles": v.missed_cycles, "working": sketch.EMPTY, "wall": sketch.EMPTY}
            for (k, clock), v in clocks
        ],
    )  # fmt: skip
    with_stops = [(k, v) for k, v in clocks if any(v.working.values()) or any(v.wall.values())]
    _merge_sketches(connection, with_stops)


def _merge_sketches(connection: sa.Connection, clocks: list[tuple[tuple[Key, str], ClockSums]]) -> None:
    """Read the rows' sketches (locked: the upsert before already holds them), merge, write back."""
    if not clocks:
        return
    width = len(_CLOCK_KEY)
    stored: dict[tuple[Any, ...], tuple[str, str]] = {}
    for chunk in range(0, len(clocks), _CHUNK):
        keys = [(*k, clock) for (k, clock), _ in clocks[chunk : chunk + _CHUNK]]
        if len(keys) == 1:
            found = connection.execute(
                _SKETCH_OF_KEY, {f"_{n}": v for n, v in zip(_CLOCK_KEY, keys[0], strict=True)}
            )
        else:
            found = connection.execute(_SKETCHES_OF_KEYS, {"_keys": keys})
        for row in found:
            stored[(_as_date(row[0]), *row[1:width])] = (row[-2], row[-1])
    params = []
    for (k, clock), sums in clocks:
        working_text, wall_text = stored[(*k, clock)]
        working, wall = sketch.decode(working_text), sketch.decode(wall_text)
        sketch.merge(working, sums.working)
        sketch.merge(wall, sums.wall)
        params.append(
            {**{f"_{n}": v for n, v in _key_values(k).items()}, "_clock": clock,
             "working": sketch.encode(working), "wall": sketch.encode(wall)}
        )  # fmt: skip
    executemany(connection, _SET_SKETCHES, params)


_CLOCK_KEY = (*ROLLUP_KEY, "clock")
_SKETCHES = sa.select(
    *(ROLLUP_CLOCKS.c[n] for n in _CLOCK_KEY), ROLLUP_CLOCKS.c.working, ROLLUP_CLOCKS.c.wall
)
_SKETCH_OF_KEY = _SKETCHES.where(
    *(ROLLUP_CLOCKS.c[n] == sa.bindparam(f"_{n}") for n in _CLOCK_KEY)
).with_for_update()
_SKETCHES_OF_KEYS = _SKETCHES.where(
    sa.tuple_(*(ROLLUP_CLOCKS.c[n] for n in _CLOCK_KEY)).in_(sa.bindparam("_keys", expanding=True))
).with_for_update()
_SET_SKETCHES = (
    sa.update(ROLLUP_CLOCKS)
    .where(*(ROLLUP_CLOCKS.c[name] == sa.bindparam(f"_{name}") for name in (*ROLLUP_KEY, "clock")))
    .values(working=sa.bindparam("working"), wall=sa.bindparam("wall"))
)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _key_values(key: Key) -> dict[str, Any]:
    return dict(zip(ROLLUP_KEY, key, strict=True))


_COUNTS = {
    "rollup_cases": ("cases",),
    "rollup_clocks": ("met", "breached", "cycles", "missed_cycles"),
    "rollup_escalations": ("escalations", "manual"),
}


@functools.cache
def _adder(dialect: str, table_name: str) -> Any:
    """INSERT a roll-up row, or add its counts to the stored one (built once per dialect)."""
    table = SQLModel.metadata.tables[table_name]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: table.c[name] + insert.excluded[name] for name in _COUNTS[table_name]},
    )


def _rows_of(sums: Sums) -> Iterable[tuple[sa.Table, list[dict[str, Any]]]]:
    yield ROLLUP_CASES, [_key_values(k) | {"cases": n} for k, n in sorted(sums.cases.items()) if n]
    yield ROLLUP_CLOCKS, [
        _key_values(k) | {"clock": clock, "met": v.met, "breached": v.breached, "cycles": v.cycles,
                          "missed_cycles": v.missed_cycles, "working": sketch.encode(v.working),
                          "wall": sketch.encode(v.wall)}
        for (k, clock), v in sorted(sums.clocks.items())
        if not v.empty()
    ]  # fmt: skip
    yield (
        ROLLUP_ESCALATIONS,
        [
            _key_values(k) | {"stage": stage, "escalations": n, "manual": m}
            for (k, stage), (n, m) in sorted(sums.escalations.items())
            if n or m
        ],
    )


#: What ``rebuild`` reads: the source table, its columns, and how a row counts.
_SOURCES: tuple[tuple[str, sa.Table], ...] = (
    ("cases", SQLModel.metadata.tables["cases"]),
    ("clock_outcomes", OUTCOMES),
    ("case_escalations", ESCALATIONS),
)


def rebuild(connection: sa.Connection, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Recompute every roll-up row from ``cases``, ``clock_outcomes`` and ``case_escalations``
    (delete, then insert: run it in one transaction, so readers see the old rows or the new).
    ``progress(table, rows read)`` is called every 100,000 rows read and at each table's end.
    Returns the rows written per roll-up table."""
    sums = Sums()
    for name, table in _SOURCES:
        columns = [table.c[c] for c in _FOLDED.get(name, ("opened_at", *OUTCOME_GROUPS))]
        add: Callable[[Any], None] = {
            "cases": lambda row: sums.add_case(key_of(row)),
            "clock_outcomes": sums.add_outcome,
            "case_escalations": sums.add_escalation,
        }[name]
        # Streamed, options on the statement (on the connection they would outlive the read).
        result = connection.execute(sa.select(*columns).execution_options(yield_per=10_000))
        read = 0
        for row in result:
            add(row)
            read += 1
            if progress is not None and read % 100_000 == 0:
                progress(name, read)
        if progress is not None:
            progress(name, read)
    written = {}
    for table, rows in _rows_of(sums):
        connection.execute(sa.delete(table))
        for chunk in range(0, len(rows), _CHUNK):
            connection.execute(sa.insert(table), rows[chunk : chunk + _CHUNK])
        written[table.name] = len(rows)
    return written
