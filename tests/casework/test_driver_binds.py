"""Executemany with pre-bound values (casework.history.driver_binds): the stored bytes are
SQLAlchemy's own, and a value the column types refuse is refused as SQLAlchemy refuses it."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import IntegrityError, StatementError

from casework.history import driver_binds
from casework.history.clock_outcomes import _blank, upsert_statement
from casework.history.driver_binds import (
    COPY_FROM,
    ROWS_PER_STATEMENT,
    _joined_update,
    _plan,
    bind_ahead,
    executemany,
    run_bound,
)
from casework.history.event_rows import (
    BREACHES,
    EVENTS,
    NOTIFICATIONS,
    UPDATE_CASE,
    BreachRow,
    NotificationRow,
    insert_of,
)
from models.types import NaiveDatetimeError
from sla_engine.kinds import EventKind, Status
from tests.casework.builders import T0, open_one, register

PARIS = timezone(timedelta(hours=1))


def _events(case_id: str, first_seq: int, policy_version: int, count: int = 4) -> list[dict[str, Any]]:
    """Rows sharing instants (as a sweep's do), in another zone, with text to escape and nulls."""
    kinds = [EventKind.NOTE_ADDED, "note_added", EventKind.AT_RISK, EventKind.NOTE_ADDED] * (count // 4 + 1)
    shared = datetime(2026, 3, 2, 10, 30, 0, 123456, tzinfo=PARIS)
    return [
        {
            "case_id": case_id,
            "seq": first_seq + i,
            "kind": kind,
            "at": shared if i % 2 else T0 + timedelta(microseconds=i),
            "recorded_at": shared,
            "actor": 'agent:zoë "q" \' \t\n\\ \\N',
            "data": {"b": [1, 2.5, None], "a": "é\n\t\\ \u0000", "n": None, "i": i},
            "policy_version": policy_version,
            "dedupe_key": None if i % 2 else f"{first_seq}k{i}",
            "prev_hash": "p",
            "hash": "h",
        }
        for i, kind in enumerate(kinds[:count])
    ]


def _stored(engine: Engine, case_id: str, seqs: range) -> list[tuple[Any, ...]]:
    query = text(
        "SELECT kind, at, recorded_at, actor, data, policy_version, replace(dedupe_key, :prefix, ''), "
        "prev_hash, hash, seq - :first FROM case_events "
        "WHERE case_id = :case AND seq >= :first AND seq < :stop ORDER BY seq"
    )
    with engine.connect() as connection:
        rows = connection.execute(
            query, {"case": case_id, "first": seqs.start, "stop": seqs.stop, "prefix": str(seqs.start)}
        )
        return [tuple(row) for row in rows]


#: A few rows (an executemany); COPY_FROM (PostgreSQL: a COPY); on SQLite two INSERTs of
#: ROWS_PER_STATEMENT rows each and an executemany of the rest (PostgreSQL: a COPY).
COUNTS = pytest.mark.parametrize(
    "count", [4, COPY_FROM, 2 * ROWS_PER_STATEMENT + 3], ids=["executemany", "copy", "multirow"]
)


@COUNTS
def test_rows_bound_for_the_driver_are_stored_byte_for_byte_as_sqlalchemy_stores_them(
    engine: Engine, count: int
) -> None:
    register(engine)
    case = open_one(engine).case
    with engine.begin() as connection:
        assert executemany(connection, insert_of(EVENTS), _events(case.id, 100, case.policy_version, count))
        connection.execute(insert(EVENTS), _events(case.id, 200, case.policy_version, count))
    ours = _stored(engine, case.id, range(100, 100 + count))
    assert len(ours) == count and ours == _stored(engine, case.id, range(200, 200 + count))
    assert [row[6] for row in ours] == [None if i % 2 else f"k{i}" for i in range(count)]


@COUNTS
def test_rows_bound_ahead_of_their_transaction_are_stored_as_sqlalchemy_stores_them(
    engine: Engine, count: int
) -> None:
    """``bind_ahead`` (a sweep lane, before it takes the write lock), ``run_bound`` later."""
    register(engine)
    case = open_one(engine).case
    bound = bind_ahead(engine.dialect, insert_of(EVENTS), _events(case.id, 500, case.policy_version, count))
    assert bound is not None
    with engine.begin() as connection:
        assert bound.fits(connection, insert_of(EVENTS)) and not bound.fits(connection, insert(EVENTS))
        run_bound(connection, bound)
        connection.execute(insert(EVENTS), _events(case.id, 600, case.policy_version, count))
    ours = _stored(engine, case.id, range(500, 500 + count))
    assert len(ours) == count and ours == _stored(engine, case.id, range(600, 600 + count))


def test_a_value_the_types_refuse_is_not_bound_ahead(engine: Engine) -> None:
    rows = _events("c", 1, 1)
    rows[1]["at"] = datetime(2026, 3, 2, 10, 0)  # naive: executemany raises it as SQLAlchemy does
    assert bind_ahead(engine.dialect, insert_of(EVENTS), rows) is None
    assert bind_ahead(engine.dialect, insert_of(EVENTS), []) is None


@COUNTS
def test_a_refused_row_is_raised_as_sqlalchemy_raises_it_and_nothing_is_written(
    engine: Engine, count: int
) -> None:
    register(engine)
    case = open_one(engine).case
    rows = _events(case.id, 400, case.policy_version, count)
    rows[-1]["dedupe_key"] = rows[0]["dedupe_key"]
    with pytest.raises(IntegrityError) as info, engine.begin() as connection:
        executemany(connection, insert_of(EVENTS), rows)
    assert "dedupe_key" in str(info.value.orig)  # what the batch writer reads to name the case
    assert _stored(engine, case.id, range(400, 400 + count)) == []


@pytest.mark.parametrize("count", [13, 2 * ROWS_PER_STATEMENT + 1], ids=["executemany", "multirow"])
def test_an_upsert_folds_a_key_given_twice_as_one_statement_per_row_would(engine: Engine, count: int) -> None:
    """Clock outcomes' upsert (ON CONFLICT ... DO UPDATE): a key met again later in the same rows,
    even within one multi-row INSERT on SQLite, is folded into the row written before it."""
    register(engine)
    case = open_one(engine).case
    group = _blank(case, "")  # the row write_outcomes starts from
    rows = [group | {"clock": f"c{i % 10}", "missed_cycles": 1 + i} for i in range(count)]
    rows[-1] |= {"breached": True, "cycles": 7}
    with engine.begin() as connection:
        executemany(connection, upsert_statement(engine.dialect.name), rows[:1])
        executemany(connection, upsert_statement(engine.dialect.name), rows[1:])
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT clock, breached, cycles, missed_cycles FROM clock_outcomes WHERE case_id = :id"),
            {"id": case.id},
        )
        folded = {row[0]: tuple(row[1:]) for row in stored}
    last = (count - 1) % 10  # its last row breached, with 7 cycles
    assert folded == {
        f"c{k}": (k == last, 7 if k == last else 0, sum(1 + i for i in range(k, count, 10)))
        for k in range(10)
    }


def test_a_compare_and_set_update_counts_the_rows_it_matched(engine: Engine) -> None:
    register(engine)
    case = open_one(engine).case
    params = [
        {"_id": case.id, "_seen": case.version, "status": Status.ACKNOWLEDGED, "version": case.version + 1},
        {"_id": case.id, "_seen": 99, "status": Status.ACKNOWLEDGED, "version": 100},
    ]
    with engine.begin() as connection:
        assert executemany(connection, UPDATE_CASE, params) == 1
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT status, version FROM cases WHERE id = :id"), {"id": case.id})
        assert tuple(stored.one()) == ("acknowledged", case.version + 1)


def test_a_joined_update_stores_what_sqlalchemy_stores_and_counts_the_rows_it_matched(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """update_many: on SQLite one UPDATE joined to the sets' VALUES (here two sets per statement),
    elsewhere an executemany; either way the stored bytes are SQLAlchemy's own, and a set whose
    version does not match changes nothing and is not counted."""
    monkeypatch.setattr(driver_binds, "ROWS_PER_UPDATE", 2)
    register(engine)
    cases = [open_one(engine, now=T0 + timedelta(minutes=i)).case for i in range(5)]
    due = datetime(2026, 3, 2, 12, 30, 0, 250, tzinfo=PARIS)

    def values(case: Any, seen: int) -> dict[str, Any]:
        state = {"note": 'é "q" \\ \u0000', "n": [1, 2.5, None]}
        return {
            "_id": case.id,
            "_seen": seen,
            "status": Status.ACKNOWLEDGED,
            "next_deadline_at": due,
            "state": state,
            "version": seen + 1,
        }

    read = text("SELECT status, next_deadline_at, state, version FROM cases WHERE id = :id")

    def stored() -> dict[str, tuple[Any, ...]]:
        with engine.connect() as connection:
            return {c.id: tuple(connection.execute(read, {"id": c.id}).one()) for c in cases}

    before = stored()
    ours = [values(cases[0], cases[0].version), values(cases[1], 99), values(cases[2], cases[2].version)]
    with engine.begin() as connection:
        assert driver_binds.update_many(connection, UPDATE_CASE, ours) == 2
        connection.execute(UPDATE_CASE, [values(cases[3], cases[3].version)])
    after = stored()
    assert after[cases[0].id] == after[cases[2].id] == after[cases[3].id] != before[cases[0].id]
    assert after[cases[0].id][3] == cases[0].version + 1
    assert after[cases[1].id] == before[cases[1].id]  # the stale set left its case as it was


def test_a_naive_datetime_is_refused_as_sqlalchemy_refuses_it(engine: Engine) -> None:
    register(engine)
    case = open_one(engine).case
    rows = _events(case.id, 300, case.policy_version)
    rows[2]["recorded_at"] = datetime(2026, 3, 2, 10, 0)
    with engine.begin() as connection, pytest.raises(StatementError) as info:
        executemany(connection, insert_of(EVENTS), rows)
    assert isinstance(info.value.orig, NaiveDatetimeError)
    assert _stored(engine, case.id, range(300, 304)) == []


def test_both_backends_take_the_prepared_values_not_sqlalchemys_per_set_path(engine: Engine) -> None:
    """The sweep's statements are planned for the driver on SQLite (positions) and PostgreSQL (names)."""
    plan = _plan(insert_of(EVENTS), engine.dialect, tuple(_events("c", 1, 1)[0]))
    assert plan is not None
    assert (plan.names is None) == (engine.dialect.name == "sqlite")
    assert (plan.copy is None) == (engine.dialect.name == "sqlite")
    processed = plan.processed
    assert len(processed) == 4  # kind, at, recorded_at, data: the columns whose type processes a value
    update = _plan(UPDATE_CASE, engine.dialect, ("_id", "_seen", "status", "version"))
    assert update is not None and "WHERE" in update.text and update.copy is None
    # SQLite joins the case rows' UPDATE to their VALUES (update_many): the statement fits that form.
    joined = _joined_update(UPDATE_CASE, engine.dialect, ("_id", "_seen", "status", "version"))
    assert (joined is not None) == (engine.dialect.name == "sqlite")
    for table, row in ((BREACHES, BreachRow), (NOTIFICATIONS, NotificationRow)):
        # Every column given (none left to a default SQLAlchemy would fetch first), so planned too.
        planned = _plan(insert_of(table), engine.dialect, tuple(f.name for f in fields(row)))
        assert planned is not None, table.name
        assert (planned.copy is None) == (engine.dialect.name == "sqlite"), table.name
