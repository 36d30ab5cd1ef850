"""Each SLA clock's outcome, kept in ``clock_outcomes`` from the events that decide it, in the same
transaction as those events (both write paths call ``write_outcomes``: casework.history.case_changes for one
case, casework.history.batch_writes for the sweep's batches).

A ``breached`` event of a clock sets ``breached``; a ``clock_stopped`` event of a clock sets the stop
(seq, working micros from ``data.elapsed``, wall micros = ``at - opened_at``), replacing an earlier
one (a reopened case stopped again counts its last stop); a reopen's ``resumed`` changes nothing, so
until the clock stops again the row keeps the previous stop, as the events do. A
``priority_changed``, ``queue_changed`` or ``escalated`` event copies the case's current priority
and queue onto all its rows: the report groups by the current ones. Stage events (no
``data.clock``) make no row.

A stop or breach naming a ``cycle`` (next_reply and periodic_update clocks) raises ``cycles`` to
it; each such breach adds one to ``missed_cycles``.

Each ``escalated`` event also makes one ``case_escalations`` row (the stage entered, as the text of
``data.to``, null when it names none; whether an agent made it), with the case's group columns, kept
current the same way.

The compliance roll-ups (casework.history.rollups) follow these rows in the same call.

Derived data, never hashed: the events stay the record; migrations 0004 and 0005 rebuilt these rows
from them for databases that had history.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from casework.history import rollups
from casework.history.driver_binds import executemany
from casework.history.event_rows import EventRow
from sla_engine.kinds import SYSTEM_ACTOR, EventKind

OUTCOMES = SQLModel.metadata.tables["clock_outcomes"]
ESCALATIONS = SQLModel.metadata.tables["case_escalations"]
_INSERT_ESCALATIONS = sa.insert(ESCALATIONS)
_MICRO = timedelta(microseconds=1)
#: The events after which the case's priority, queue or policy version may differ (the engine changes
#: them nowhere else once a case is open; an escalation moves the case to the entered stage's queue;
#: a policy migration pins another version, and the case's rows are grouped under it from then on).
_REGROUPING = frozenset(
    {EventKind.PRIORITY_CHANGED, EventKind.QUEUE_CHANGED, EventKind.ESCALATED, EventKind.POLICY_MIGRATED}
)
_REGROUP = [
    sa.update(table)
    .where(table.c.case_id == sa.bindparam("_case_id"))
    .values(
        priority=sa.bindparam("priority"),
        queue=sa.bindparam("queue"),
        policy_version=sa.bindparam("policy_version"),
    )
    for table in (OUTCOMES, ESCALATIONS)
]


class CaseColumns(Protocol):
    """The case row's columns an outcome copies (a ``Case``, as it is after the events)."""

    @property
    def id(self) -> str: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def policy_id(self) -> str: ...
    @property
    def policy_version(self) -> int: ...
    @property
    def incident_type(self) -> str: ...
    @property
    def priority(self) -> str: ...
    @property
    def queue(self) -> str: ...


def micros(seconds: float | None) -> int | None:
    """Seconds as whole microseconds (the engine's ``elapsed`` is ``timedelta.total_seconds()``, so
    ``micros(s) / 10**6 == s`` exactly)."""
    return None if seconds is None else round(seconds * 10**6)


def outcome_rows(case: CaseColumns, events: Iterable[EventRow]) -> tuple[list[dict[str, Any]], bool]:
    """The upsert values of the clocks ``events`` decide (one per clock, later events winning) and
    whether the case's priority or queue changed."""
    found: dict[str, dict[str, Any]] = {}
    regroup = False
    for event in events:
        if event.kind in _REGROUPING:
            regroup = True
            continue
        clock = event.data.get("clock")
        if clock is None or event.kind not in (EventKind.BREACHED, EventKind.CLOCK_STOPPED):
            continue
        row = found.setdefault(str(clock), _blank(case, str(clock)))
        cycle = int(event.data.get("cycle") or 0)
        row["cycles"] = max(row["cycles"], cycle)
        if event.kind is EventKind.BREACHED:
            row["breached"] = True
            row["missed_cycles"] += 1 if cycle else 0
        else:
            row["stop_seq"] = event.seq
            row["working_micros"] = micros(event.data.get("elapsed"))
            row["wall_micros"] = (event.at - case.opened_at) // _MICRO
    return list(found.values()), regroup


def escalation_rows(case: CaseColumns, events: Iterable[EventRow]) -> list[dict[str, Any]]:
    """The ``case_escalations`` rows of the ``escalated`` events among ``events``."""
    return [
        {
            **_group_values(case),
            "seq": event.seq,
            "stage": None if event.data.get("to") is None else str(event.data["to"]),
            "manual": event.actor != SYSTEM_ACTOR,
        }
        for event in events
        if event.kind is EventKind.ESCALATED
    ]


def _group_values(case: CaseColumns) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "opened_at": case.opened_at,
        "policy_id": case.policy_id,
        "policy_version": case.policy_version,
        "incident_type": case.incident_type,
        "priority": case.priority,
        "queue": case.queue,
    }


def _blank(case: CaseColumns, clock: str) -> dict[str, Any]:
    return {
        **_group_values(case),
        "clock": clock,
        "breached": False,
        "stop_seq": None,
        "working_micros": None,
        "wall_micros": None,
        "cycles": 0,
        "missed_cycles": 0,
    }


def write_outcomes(
    session: Session,
    changes: Sequence[tuple[CaseColumns, Sequence[EventRow]]],
    before: Sequence[Mapping[str, Any]],
) -> None:
    """Fold the events of each (case, events written) into ``clock_outcomes`` and
    ``case_escalations``, and the difference into the compliance roll-ups (casework.history.rollups),
    on the session's connection, in the caller's transaction (nothing flushed or committed here).
    ``before`` holds, per change, the case's column values before it (the ones it changed; empty
    for a new case): a case whose priority, queue or policy moved is counted in its new group."""
    rollup = rollups.Snapshot(session.connection(), changes, before)
    upserts: list[dict[str, Any]] = []
    escalations: list[dict[str, Any]] = []
    regroups: list[dict[str, Any]] = []
    for case, events in changes:
        rows, regroup = outcome_rows(case, events)
        upserts += rows
        escalations += escalation_rows(case, events)
        if regroup:
            regroups.append(
                {
                    "_case_id": case.id,
                    "priority": case.priority,
                    "queue": case.queue,
                    "policy_version": case.policy_version,
                }
            )
    connection = session.connection()
    if regroups:
        for statement in _REGROUP:
            executemany(connection, statement, regroups)
    if upserts:
        executemany(connection, upsert_statement(connection.dialect.name), upserts)
    if escalations:
        executemany(connection, _INSERT_ESCALATIONS, escalations)
    rollup.write(connection)


@functools.cache
def upsert_statement(dialect: str) -> Any:
    """INSERT a clock's outcome, or fold it into the stored one: a breach stays, a new stop replaces
    the old, the group columns take the case's current values. Built once per dialect (building it
    cost ~0.5 ms, a fifth of an agent's action; the statement is immutable, shared safely)."""
    insert = postgresql.insert(OUTCOMES) if dialect == "postgresql" else sqlite.insert(OUTCOMES)
    new, old = insert.excluded, OUTCOMES.c
    stopped = new.stop_seq.is_not(None)
    return insert.on_conflict_do_update(
        index_elements=[old.case_id, old.clock],
        set_={
            "priority": new.priority,
            "queue": new.queue,
            "breached": sa.or_(old.breached, new.breached),
            "stop_seq": sa.case((stopped, new.stop_seq), else_=old.stop_seq),
            "working_micros": sa.case((stopped, new.working_micros), else_=old.working_micros),
            "wall_micros": sa.case((stopped, new.wall_micros), else_=old.wall_micros),
            "cycles": sa.case((new.cycles > old.cycles, new.cycles), else_=old.cycles),
            "missed_cycles": old.missed_cycles + new.missed_cycles,
        },
    )
