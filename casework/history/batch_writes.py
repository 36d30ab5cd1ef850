"""Writing the changes of a batch of cases with a handful of statements, not the ORM per case.

The sweep changes up to a few hundred cases per transaction. Writing them through the ORM's unit of
work cost ~4 ms per case (objects, two flushes and a version UPDATE each); here a batch is:

    SAVEPOINT
    one executemany UPDATE of the case rows, each guarded by the version read (compare-and-set)
    one executemany INSERT of every event
    RELEASE SAVEPOINT
    one executemany INSERT of the breach rows, one of the outbox rows, one upsert of the clocks'
    outcomes (casework.history.clock_outcomes; an UPDATE first for cases whose priority or queue changed)

all on the session's connection, in the caller's transaction (nothing is committed here; nothing is
left pending in the session either), through the tables' column types (so
datetimes are stored as ``UTCDateTime`` stores them, kinds as their values, JSON as JSON). The rows
are the same as ``casework.history.case_changes.write_case_change`` writes, value for value: the
same hash chain (``casework.history.hashchain``), the same breach and outbox rows (``history.breach_values`` /
``notification_values``), the same case columns (``history.state_columns``).

Errors, after which the caller must roll the whole transaction back (as with the single-case path):
``StaleVersion`` when a case row moved past the version read; ``DuplicateTimedEvent`` when the
unique (case_id, dedupe_key) constraint refuses an event (the database decides, never a prior
SELECT). The savepoint only lets the writer name the case after a refusal (the rows read back as
they were before the batch).

The cases passed in are updated in place to the values written (``case_rows.set_values``): a
``CaseRow`` (the sweep's claim) by assignment, a ``Case`` as *committed* values, so it reads as the
database now holds it and the session never writes it a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic

from sqlalchemy import ARRAY, Connection, Integer, String, bindparam, func, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from casework.errors import DuplicateTimedEvent, StaleVersion
from casework.history.case_changes import C, Change, consequences, state_columns
from casework.history.case_rows import CaseRecord, set_values, values_of
from casework.history.clock_outcomes import write_outcomes
from casework.history.driver_binds import Bound, bind_ahead, executemany, run_bound, update_many
from casework.history.event_rows import (
    BREACHES,
    CASES,
    EVENTS,
    NOTIFICATIONS,
    UPDATE_CASE,
    EventRow,
    chain_events,
    insert_of,
    insert_rows,
)
from models.tables import Case, CaseEvent
from sla_engine.events import EngineEvent
from sla_engine.state import CaseState

_MOVE_DEADLINE = update(CASES).where(CASES.c.id == bindparam("_id"))


@dataclass(frozen=True)
class PlannedChange(Generic[C]):
    """What the engine decided for one case: its new state and the events that led there.
    ``prev_hash`` is the hash of the case's event ``last_seq`` (``history.last_hashes``). A state of
    None: events that leave the case as it is (deliveries' records); in one batch either every
    change has a state or none has (one executemany UPDATE sets the same columns on every row).
    ``read``: the state the engine advanced from, as parsed from ``case.state``; a new state that
    holds that state's very ``attributes`` left them as stored, so they are not normalized again
    (a JSON round trip per swept case: the engine's timers never change the attributes)."""

    case: C
    state: CaseState | None
    events: Sequence[EngineEvent]
    prev_hash: str
    read: CaseState | None = None


def write_changes(session: Session, planned: Sequence[PlannedChange[C]], now: datetime) -> list[Change[C]]:
    """Write every planned change (cases distinct, each with at least one event) in one go: version
    ``+1`` and the new state on each case row, the events chained, breach and outbox rows.
    ``now`` is ``recorded_at``. Returns one Change per planned change, in order. If anything
    fails, the cases are given back the values they had (as when the per-case path refused
    a stale version before touching the case)."""
    return write_prepared(session, prepare_changes(planned, now))


@dataclass
class PreparedChanges(Generic[C]):
    """The rows of planned changes, built before any is written (``prepare_changes``): the changes,
    each case row's UPDATE values, the events, and each case's values before (given back if the
    writing fails). The cases already hold their new values."""

    changes: list[Change[C]] = field(default_factory=list)
    case_params: list[dict[str, Any]] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    before: list[tuple[C, dict[str, Any]]] = field(default_factory=list)
    #: The case rows' UPDATE and the events' INSERT bound ahead (``prepare_changes(dialect=...)``).
    bound_cases: Bound | None = None
    bound_events: Bound | None = None

    def only(self, ids: set[str]) -> PreparedChanges[C]:
        """Those of the cases ``ids``; the others are given back the values they had. (What was
        bound ahead is dropped: the kept rows are bound again as they are written.)"""
        kept: PreparedChanges[C] = PreparedChanges()
        for change, params, before in zip(self.changes, self.case_params, self.before, strict=True):
            if change.case.id not in ids:
                set_values(*before)
                continue
            kept.changes.append(change)
            kept.case_params.append(params)
            kept.before.append(before)
            kept.events.extend(change.events)
        return kept

    def give_back(self) -> None:
        for case, values in self.before:
            set_values(case, values)


def prepare_changes(
    planned: Sequence[PlannedChange[C]], now: datetime, dialect: Dialect | None = None
) -> PreparedChanges[C]:
    """The rows of every planned change (the events chained and hashed, breach and outbox rows, the
    case rows' values), without writing: the CPU of a batch's writing, which a sweep's lane does
    before it takes the write lock (flows.sweep_lanes). With the ``dialect`` it will be written
    on, the case rows and the events are also bound for it (``driver_binds.bind_ahead``)."""
    prepared: PreparedChanges[C] = PreparedChanges()
    try:
        for plan in planned:
            change, params, rows = _apply(plan, now, prepared.before)
            prepared.changes.append(change)
            prepared.case_params.append(params)
            prepared.events.extend(rows)
        if dialect is not None:
            prepared.bound_cases = bind_ahead(dialect, UPDATE_CASE, prepared.case_params)
            prepared.bound_events = bind_ahead(dialect, insert_of(EVENTS), [vars(r) for r in prepared.events])
    except BaseException:
        prepared.give_back()
        raise
    return prepared


def write_prepared(session: Session, prepared: PreparedChanges[C]) -> list[Change[C]]:
    """Write prepared changes (see :func:`write_changes`); on failure the cases get their values back."""
    changes = prepared.changes
    try:
        if changes:
            _write_guarded(session, prepared)
            insert_rows(session, BREACHES, [b for c in changes for b in c.breaches])
            insert_rows(session, NOTIFICATIONS, [n for c in changes for n in c.notifications])
            write_outcomes(session, [(c.case, c.events) for c in changes], [v for _, v in prepared.before])
    except BaseException:
        prepared.give_back()
        raise
    return changes


def move_deadlines(session: Session, moved: Sequence[tuple[CaseRecord, datetime | None]]) -> None:
    """Set ``next_deadline_at`` of cases that had nothing due after all (no version change: the
    case's history and state did not change; only the index is kept honest)."""
    if not moved:
        return
    params = [{"_id": case.id, "next_deadline_at": deadline} for case, deadline in moved]
    executemany(session.connection(), _MOVE_DEADLINE, params)
    for case, deadline in moved:
        set_values(case, {"next_deadline_at": deadline})


def _apply(
    plan: PlannedChange[C], now: datetime, before: list[tuple[C, dict[str, Any]]]
) -> tuple[Change[C], dict[str, Any], list[EventRow]]:
    """The change (with its breach and outbox rows), the case row's UPDATE values, the events; the
    case object is moved to its new committed values (its old ones appended to ``before``)."""
    case = plan.case
    seen = case.version
    rows = chain_events(case, plan.events, now, plan.prev_hash)
    state: dict[str, Any] = {}
    if plan.state is not None:  # None: a delivery's record, the case as it is
        read = plan.read.attributes if plan.read is not None else case.state.get("attributes")
        kept = case.attributes if plan.state.attributes is read else None
        state = state_columns(plan.state, kept)
    values = {**state, "version": seen + 1, "last_seq": rows[-1].seq}
    before.append((case, values_of(case, values)))
    set_values(case, values)
    breaches, notifications = consequences(case, rows, now)
    change = Change(case, list(rows), list(breaches), list(notifications))
    return change, {"_id": case.id, "_seen": seen, **values}, rows


def _write_guarded(session: Session, prepared: PreparedChanges[C]) -> None:
    """The compare-and-set UPDATE of the case rows and the events' INSERT, inside a savepoint: when
    a version does not match or a dedupe key is refused, the savepoint is rolled back so the rows
    can be read as they were and the case named (the caller then rolls back everything)."""
    case_params, events = prepared.case_params, prepared.events
    savepoint = session.begin_nested()
    connection = session.connection()  # emits the SAVEPOINT (begin_nested alone does not)
    try:
        updated = _update_cases(connection, case_params, prepared.bound_cases)
        if updated != len(case_params):
            savepoint.rollback()
            _raise_stale(session, case_params)
        insert = insert_of(EVENTS)
        if prepared.bound_events is not None and prepared.bound_events.fits(connection, insert):
            run_bound(connection, prepared.bound_events)
        else:
            executemany(connection, insert, [vars(r) for r in events])
    except IntegrityError as exc:
        savepoint.rollback()
        # PostgreSQL names the constraint (uq_case_events_case_id_dedupe_key), SQLite the columns.
        if "dedupe_key" in str(exc.orig):
            raise DuplicateTimedEvent(_duplicated_case(session, events)) from exc
        raise
    savepoint.commit()


#: The columns of a delivery's record (no new state): the version and the last event's seq.
_RECORD_ONLY = frozenset({"_id", "_seen", "version", "last_seq"})


def _update_cases(
    connection: Connection, case_params: list[dict[str, Any]], bound: Bound | None = None
) -> int:
    """The compare-and-set UPDATE of the case rows; how many matched. On PostgreSQL, records that
    leave the cases' state as it is (deliveries) are one UPDATE joined to arrays of the values
    (``unnest``): an executemany there is a statement per case for the server to run."""
    if connection.dialect.name != "postgresql" or any(p.keys() != _RECORD_ONLY for p in case_params):
        return update_many(connection, UPDATE_CASE, case_params, bound)  # on SQLite, joined to VALUES
    arrays = (
        bindparam(f"_{name}s", [p[key] for p in case_params], type_=ARRAY(type_))
        for name, key, type_ in _RECORD_COLUMNS
    )
    names = (name for name, _, _ in _RECORD_COLUMNS)
    values = func.unnest(*arrays).table_valued(*names).render_derived("recorded")
    statement = (
        update(CASES)
        .where(CASES.c.id == values.c.id, CASES.c.version == values.c.seen)
        .values(version=values.c.version, last_seq=values.c.last_seq)
    )
    return int(connection.execute(statement).rowcount)


#: The arrays' names, their parameters' keys, their element types.
_RECORD_COLUMNS = (
    ("id", "_id", String()),
    ("seen", "_seen", Integer()),
    ("version", "version", Integer()),
    ("last_seq", "last_seq", Integer()),
)


def _raise_stale(session: Session, params: list[dict[str, Any]]) -> None:
    """Name the first case (in batch order) whose stored version is not the one read."""
    ids = [p["_id"] for p in params]
    query = select(Case.id, Case.version).where(col(Case.id).in_(ids))
    stored: dict[str, int] = dict(session.exec(query).all())
    first = next((p for p in params if stored.get(p["_id"]) != p["_seen"]), params[0])
    raise StaleVersion(first["_id"], first["_seen"], stored.get(first["_id"], first["_seen"]))


def _duplicated_case(session: Session, rows: list[EventRow]) -> str:
    """The first case (in batch order) with an event whose dedupe key is stored already."""
    keyed = [(r.case_id, r.dedupe_key) for r in rows if r.dedupe_key is not None]
    query = select(CaseEvent.case_id, CaseEvent.dedupe_key).where(
        col(CaseEvent.case_id).in_({cid for cid, _ in keyed}),
        col(CaseEvent.dedupe_key).in_({key for _, key in keyed}),
    )
    stored = set(session.exec(query))
    seen: set[tuple[str, str | None]] = set()
    for pair in keyed:
        if pair in stored or pair in seen:  # stored before, or twice in this batch
            return pair[0]
        seen.add(pair)
    return rows[0].case_id
