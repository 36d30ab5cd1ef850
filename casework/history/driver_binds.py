"""Executemany with the column types' bind processing done once per distinct value (SQLite).

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

SQLite only (a positional paramstyle): on PostgreSQL the statement runs through SQLAlchemy as
before; psycopg takes named parameters with type casts, and its own adaptation of the values is the
larger part there (not measured to pay). Errors surface as with ``Connection.execute``
(``IntegrityError`` and so on).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

from models.types import EnumText, UTCDateTime

Processor = Callable[[Any], Any]


def executemany(connection: Connection, statement: UpdateBase, params: Sequence[dict[str, Any]]) -> int:
    """Run ``statement`` once per parameter set (all sets with the same keys); the driver's rowcount
    (an UPDATE's rows matched; an INSERT's may be -1)."""
    if not params:
        return 0
    dialect = connection.dialect
    plan = _plan(statement, dialect, tuple(params[0])) if dialect.name == "sqlite" else None
    if plan is None:
        return int(connection.execute(statement, list(params)).rowcount)
    try:
        rows = _bound(params, *plan[1:])
    except Exception:  # a value the types refuse: let SQLAlchemy raise it as it would (StatementError)
        return int(connection.execute(statement, list(params)).rowcount)
    return int(connection.exec_driver_sql(plan[0], rows).rowcount)


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


@functools.lru_cache(maxsize=256)
def _plan(
    statement: UpdateBase, dialect: Dialect, keys: tuple[str, ...]
) -> tuple[str, Callable[[dict[str, Any]], tuple[Any, ...]], list[tuple[int, Processor, bool]]] | None:
    """The SQL text, a getter of a parameter set's values in bind order, and (position, processor,
    memoize) of the binds with a processor; None when the compiled statement needs anything but
    plain values for ``keys`` (a default to compute, a bind that is not a key, a named paramstyle)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None or not dialect.positional:
        return None
    names = list(compiled.positiontup)
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
    return compiled.string, get, processed
