"""Executemany with the column types' bind processing done once per distinct value.

SQLAlchemy processes an executemany's parameters set by set: it builds each set's dict of every
bind, then runs each bound column's processor on each value. A sweep batch writes ~1,200 parameter
sets (case rows, events, breaches, outbox rows, clock outcomes), and most of their datetimes are the
same few instants (``now`` as ``recorded_at``, ``detected_at``, ``created_at``...): that work was
~10% of the sweep's CPU (bench/README.md, 2026-12-02 evening). Here the statement is compiled once
per dialect and set of keys, with the processors SQLAlchemy would use (the connection's dialect's,
so the JSON serializer and ``UTCDateTime``'s storage format are the very same), a ``UTCDateTime`` or
``EnumText`` value is processed once per distinct value, and the ready tuples go to the driver
through ``exec_driver_sql``: the stored bytes are SQLAlchemy's (a test writes rows both ways and
compares them).

On PostgreSQL (psycopg's named ``%(name)s`` style, with the casts SQLAlchemy renders) the
compiled text is handed over with each set as a dict of the processed values: psycopg's pipelined
executemany then does what it did, without SQLAlchemy's per-set work (a dict of every bind, the
processors run per value), ~11 % of the sweep's CPU there (bench/README.md, "2026-12-04
(morning)"). A plain INSERT of ``COPY_FROM`` rows or more (a batch's events, breach, outbox and
escalation rows) is sent as a COPY instead: psycopg formats a row for COPY in a quarter of the CPU
its executemany takes (multi-row VALUES measured no faster than the executemany). Errors surface
as with ``Connection.execute`` (``IntegrityError`` and so on), a COPY's too.

On SQLite an INSERT of ``ROWS_PER_STATEMENT`` rows or more (an upsert's too: ``ON CONFLICT``
applies row by row, as in an executemany) goes as INSERTs of that many rows each: one statement
text, prepared once, stepped once, where the executemany steps the statement, resets it and
binds again per row. A batch's ~520 events take 7.7 ms so against 8.9-12.4 ms (bench/README.md,
"2026-12-04 (afternoon)").
"""

from __future__ import annotations

import functools
import operator
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

from models.types import EnumText, UTCDateTime

Processor = Callable[[Any], Any]
#: From this many rows a plain INSERT goes to PostgreSQL as a COPY (starting one costs a round trip).
COPY_FROM = 16
#: SQLite: a plain INSERT's rows go this many per statement (one ``sqlite3_step`` for them all,
#: where an executemany steps once per row and takes the GIL back after each).
ROWS_PER_STATEMENT = 32
#: A multi-row statement's text: before its VALUES groups, one group, after them.
Joined = tuple[str, str, str]


def executemany(connection: Connection, statement: UpdateBase, params: Sequence[dict[str, Any]]) -> int:
    """Run ``statement`` once per parameter set (all sets with the same keys); the driver's rowcount
    (an UPDATE's rows matched; an INSERT's may be -1)."""
    if not params:
        return 0
    plan = _plan(statement, connection.dialect, tuple(params[0]))
    if plan is None:
        return int(connection.execute(statement, list(params)).rowcount)
    try:
        rows = _bound(params, plan.get, plan.processed)
    except Exception:  # a value the types refuse: let SQLAlchemy raise it as it would (StatementError)
        return int(connection.execute(statement, list(params)).rowcount)
    return _send(connection, plan, rows)


@dataclass(frozen=True)
class Bound:
    """Parameter sets bound ahead of their statement (``bind_ahead``): the driver's values, each
    column type's processing done (JSON encoded, instants formatted), before the write transaction
    opens. A sweep lane binds its batch's case rows and events so, outside the write lock
    (flows.sweep_lanes): the bytes stored are the same as ``executemany`` binding them then."""

    statement: UpdateBase
    dialect: Dialect
    keys: tuple[str, ...]
    plan: Plan
    rows: list[tuple[Any, ...]]

    def fits(self, connection: Connection, statement: UpdateBase) -> bool:
        """Bound for this statement on this connection's dialect."""
        return self.statement is statement and self.dialect is connection.dialect


def bind_ahead(dialect: Dialect, statement: UpdateBase, params: Sequence[dict[str, Any]]) -> Bound | None:
    """``params`` bound for ``statement`` on ``dialect`` now, to be sent later (``run_bound``,
    ``update_many(bound=...)``); None where ``executemany`` would leave them to SQLAlchemy (the
    caller then passes the parameter sets as usual, and their errors surface there)."""
    if not params:
        return None
    keys = tuple(params[0])
    plan = _plan(statement, dialect, keys)
    if plan is None:
        return None
    try:
        rows = _bound(params, plan.get, plan.processed)
    except Exception:
        return None
    return Bound(statement, dialect, keys, plan, rows)


def run_bound(connection: Connection, bound: Bound) -> int:
    """``executemany`` of parameter sets bound ahead (check ``bound.fits`` first)."""
    return _send(connection, bound.plan, bound.rows)


def _send(connection: Connection, plan: Plan, rows: list[tuple[Any, ...]]) -> int:
    """The bound rows to the driver in the form ``plan`` says."""
    if plan.names is None:  # SQLite: by position
        if plan.rows_of is not None and len(rows) >= ROWS_PER_STATEMENT:
            return _multirow(connection, plan, rows)
        return int(connection.exec_driver_sql(plan.text, rows).rowcount)
    if plan.copy is not None and len(rows) >= COPY_FROM:
        return _copy(connection, plan.copy, rows)
    named = [dict(zip(plan.names, row, strict=True)) for row in rows]
    return int(connection.exec_driver_sql(plan.text, named).rowcount)


def _bound(
    params: Sequence[dict[str, Any]],
    get: Callable[[dict[str, Any]], tuple[Any, ...]],
    processed: list[tuple[int, Processor, bool]],
) -> list[tuple[Any, ...]]:
    """The parameter sets as the driver's tuples, each processed value computed once per value
    where ``processed`` says it may be remembered."""
    memo: list[dict[Any, Any]] = [{} for _ in processed]
    rows = []
    for values in params:
        row = list(get(values))
        for (at, process, remember), seen in zip(processed, memo, strict=True):
            value = row[at]
            if remember:
                stored = seen.get(value, seen)
                if stored is seen:
                    stored = seen[value] = process(value)
                row[at] = stored
            else:
                row[at] = process(value)
        rows.append(tuple(row))
    return rows


class Plan(NamedTuple):
    """How one statement's parameter sets go to the driver."""

    text: str
    #: A parameter set's values in bind order.
    get: Callable[[dict[str, Any]], tuple[Any, ...]]
    #: (position, processor, memoize) of the binds whose type processes a value.
    processed: list[tuple[int, Processor, bool]]
    #: The binds' names when the driver takes them by name (PostgreSQL); None for SQLite's positions.
    names: tuple[str, ...] | None
    #: PostgreSQL, a plain INSERT of values: the same rows as a COPY (the columns in bind order).
    copy: str | None
    #: SQLite, an INSERT of one row of positional binds: the text before its ``(?, ...)``, that
    #: group, and the text after (an ``ON CONFLICT``).
    rows_of: Joined | None = None


#: A bind in psycopg's named style, as SQLAlchemy renders it (a cast may follow).
_NAMED = re.compile(r"%\((\w+)\)s")
#: An INSERT of nothing but binds (no ON CONFLICT, RETURNING or SELECT): COPY writes the same rows.
_PLAIN_INSERT = re.compile(r"INSERT INTO (\S+) \(([^)]*)\) VALUES \((?:%\(\w+\)s(?:::[A-Z ]+)?(?:, )?)+\)")


#: SQLite's INSERT of one row of positional binds (``ON CONFLICT`` may follow: it applies per row).
_ONE_ROW = re.compile(r"(INSERT INTO \S+ \([^)]*\) VALUES )(\((?:\?(?:, )?)+\))(.*)", re.S)


@functools.lru_cache(maxsize=256)
def _plan(statement: UpdateBase, dialect: Dialect, keys: tuple[str, ...]) -> Plan | None:
    """How ``statement`` with ``keys`` goes to the driver (``Plan``); None when the compiled
    statement needs anything but plain values for ``keys`` (a default to compute, a bind that is
    not a key or is used twice, another paramstyle). Compiled once per statement, dialect and keys."""
    if dialect.name not in ("sqlite", "postgresql"):
        return None
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    if not isinstance(compiled, SQLCompiler):
        return None
    if dialect.positional and compiled.positiontup is not None:
        names = list(compiled.positiontup)
        by_name = False
    elif dialect.paramstyle == "pyformat" and dialect.name == "postgresql":
        names = _NAMED.findall(compiled.string)
        by_name = True
        if len(set(names)) != len(names):
            return None  # a bind used twice: leave it to SQLAlchemy
    else:
        return None
    if not names or set(names) - set(keys) or compiled.insert_prefetch or compiled.update_prefetch:
        return None
    processed: list[tuple[int, Processor, bool]] = []
    for at, name in enumerate(names):
        process = compiled._bind_processors.get(name)
        if process is None:
            continue
        if not callable(process):
            return None  # a tuple's processors, per element: not a plain value
        processed.append((at, process, isinstance(compiled.binds[name].type, UTCDateTime | EnumText)))
    getter = operator.itemgetter(*names)
    get = getter if len(names) > 1 else lambda values: (getter(values),)
    plain = _PLAIN_INSERT.fullmatch(compiled.string) if by_name else None
    copy = f"COPY {plain[1]} ({plain[2]}) FROM STDIN" if plain else None
    single = None if by_name else _ONE_ROW.fullmatch(compiled.string)
    rows_of = (single[1], single[2], single[3]) if single else None
    return Plan(compiled.string, get, processed, tuple(names) if by_name else None, copy, rows_of)


def update_many(
    connection: Connection,
    statement: UpdateBase,
    params: Sequence[dict[str, Any]],
    bound: Bound | None = None,
) -> int:
    """``executemany`` of an UPDATE whose sets all have the same keys; how many rows it matched.
    ``bound``: the same sets bound ahead (``bind_ahead``), used when it ``fits``.

    On SQLite (3.33 or later) an ``UPDATE t SET a=?, ... WHERE t.x = ? AND ...`` of plain binds
    goes as one statement per ``ROWS_PER_UPDATE`` sets: ``WITH v(...) AS (VALUES (...), ...)
    UPDATE t SET a = v.a, ... FROM v WHERE t.x = v.x AND ...``, each row found by the same index.
    An executemany steps, resets and binds the statement again per set, the sweep's ~200 case rows
    a batch; with the 32-row INSERTs this cut the plain sweep's CPU by 24 % (bench/README.md,
    "2026-12-04 (afternoon)"). ``SELECT changes()`` then says how many rows matched (sqlite3 gives
    no rowcount for a statement that begins with WITH)."""
    if not params:
        return 0
    if bound is not None and bound.fits(connection, statement):
        rows = bound.rows
        joined = _joined_update(statement, connection.dialect, bound.keys) if len(rows) > 1 else None
        return _send(connection, bound.plan, rows) if joined is None else _joined(connection, joined, rows)
    joined = _joined_update(statement, connection.dialect, tuple(params[0])) if len(params) > 1 else None
    plan = _plan(statement, connection.dialect, tuple(params[0])) if joined is not None else None
    if joined is None or plan is None:
        return executemany(connection, statement, params)
    try:
        rows = _bound(params, plan.get, plan.processed)
    except Exception:  # a value the types refuse: let SQLAlchemy raise it as it would (StatementError)
        return int(connection.execute(statement, list(params)).rowcount)
    return _joined(connection, joined, rows)


def _joined(connection: Connection, joined: Joined, rows: list[tuple[Any, ...]]) -> int:
    """SQLite: bound UPDATE sets as joined UPDATEs of ``ROWS_PER_UPDATE`` sets each; rows matched."""
    matched = 0
    for at in range(0, len(rows), ROWS_PER_UPDATE):
        chunk = rows[at : at + ROWS_PER_UPDATE]
        connection.exec_driver_sql(_text_of(joined, len(chunk)), _flat(chunk))
        matched += int(connection.exec_driver_sql("SELECT changes()").scalar_one())
    return matched


#: SQLite: an UPDATE of plain binds, as SQLAlchemy compiles it for SQLite.
_PLAIN_UPDATE = re.compile(r"UPDATE (\w+) SET ((?:\w+=\?(?:, )?)+) WHERE ((?:\w+\.\w+ = \?(?: AND )?)+)")
#: Sets per joined UPDATE: SQLite takes at most 32,766 binds in a statement.
ROWS_PER_UPDATE = 500


@functools.lru_cache(maxsize=64)
def _joined_update(statement: UpdateBase, dialect: Dialect, keys: tuple[str, ...]) -> Joined | None:
    """SQLite's joined form of ``statement`` for ``keys``: the text before the VALUES groups, one
    group, the text after. None where it does not apply (another database, an older SQLite, an
    UPDATE that is not plain binds)."""
    if dialect.name != "sqlite" or sqlite3.sqlite_version_info < (3, 33):
        return None
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    matched = _PLAIN_UPDATE.fullmatch(compiled.string)
    names = list(getattr(compiled, "positiontup", None) or [])
    if matched is None or len(set(names)) != len(names):
        return None
    table, sets, conditions = matched[1], matched[2].split(", "), matched[3].split(" AND ")
    if len(sets) + len(conditions) != len(names):
        return None
    given = [
        f"{column[: -len('=?')]} = v.{name}" for column, name in zip(sets, names[: len(sets)], strict=True)
    ]
    wanted = [
        f"{condition[: -len(' = ?')]} = v.{name}"
        for condition, name in zip(conditions, names[len(sets) :], strict=True)
    ]
    before = f"WITH v({', '.join(names)}) AS (VALUES "
    after = f") UPDATE {table} SET {', '.join(given)} FROM v WHERE {' AND '.join(wanted)}"
    return before, "(" + ", ".join("?" * len(names)) + ")", after


def _multirow(connection: Connection, plan: Plan, rows: list[tuple[Any, ...]]) -> int:
    """SQLite: ``rows`` as INSERTs of ``ROWS_PER_STATEMENT`` rows each (one text, prepared once),
    the remainder as an executemany."""
    assert plan.rows_of is not None
    whole = len(rows) - len(rows) % ROWS_PER_STATEMENT
    flat = [_flat(rows[at : at + ROWS_PER_STATEMENT]) for at in range(0, whole, ROWS_PER_STATEMENT)]
    connection.exec_driver_sql(_text_of(plan.rows_of, ROWS_PER_STATEMENT), flat)
    if whole < len(rows):
        connection.exec_driver_sql(plan.text, rows[whole:])
    return len(rows)


def _text_of(joined: Joined, count: int) -> str:
    """A multi-row statement's text for ``count`` rows."""
    before, group, after = joined
    return before + ", ".join([group] * count) + after


def _flat(rows: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The values of ``rows`` one after another: a multi-row statement's parameters."""
    return tuple(value for row in rows for value in row)


def _copy(connection: Connection, sql: str, rows: list[tuple[Any, ...]]) -> int:
    """``rows`` written with COPY on the connection's psycopg connection, in its transaction; a
    refusal (a unique key, say) raised as ``Connection.execute`` raises it (``IntegrityError``...).
    The engine's cursor events see it as a statement (what counts or traces statements still does)."""
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.cursor()
    events = connection.dispatch
    try:
        events.before_cursor_execute(connection, cursor, sql, rows, None, True)
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        events.after_cursor_execute(connection, cursor, sql, rows, None, True)
    except dbapi.Error as error:
        raise DBAPIError.instance(sql, None, error, dbapi.Error, dialect=connection.dialect) from error
    finally:
        cursor.close()
    return len(rows)
