"""A column among many values, as one statement text whatever their number.

An expanding ``IN`` renders one bind per value, so every count of values is another statement
text. On PostgreSQL psycopg parses again each text too long for its cache (a sweep's batch reads
the rows of its ~200 cases five times this way: ~1.5 ms of client CPU each, and the server plans
each text afresh; bench/README.md, "2026-12-04 (morning)"). ``= ANY(array)`` is one text and one
bind whatever the count. SQLite has no arrays and keeps ``IN``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement


def among(column: Any, values: Collection[Any], dialect: str) -> ColumnElement[bool]:
    """``column IN values`` as the dialect runs it best (``values`` may be any collection)."""
    result: ColumnElement[bool]
    if dialect == "postgresql":
        result = column == sa.any_(sa.bindparam(None, list(values), type_=sa.ARRAY(column.type)))
    else:
        result = column.in_(list(values))
    return result


def pairs_among(
    first: Any, second: Any, pairs: Collection[tuple[Any, Any]], dialect: str
) -> ColumnElement[bool]:
    """``(first, second) IN pairs``: on PostgreSQL against two arrays side by side (``unnest``),
    one text, planned as index look-ups of the pairs (a sweep's ``last_hashes`` took 9-10 ms for
    200 cases as ``case_id = ANY(...)`` and a correlated ``last_seq``, 1-1.7 ms so:
    bench/README.md, "2026-12-04 (sampled)"); on SQLite as ``first IN (...)`` and the row values."""
    listed = list(pairs)
    if dialect != "postgresql":
        # The first column's IN picks the index; the row values alone made SQLite scan the table.
        return sa.and_(first.in_({p[0] for p in listed}), sa.tuple_(first, second).in_(listed))
    arrays = (
        sa.bindparam(None, [p[0] for p in listed], type_=sa.ARRAY(first.type)),
        sa.bindparam(None, [p[1] for p in listed], type_=sa.ARRAY(second.type)),
    )
    wanted = sa.func.unnest(*arrays).table_valued("first", "second").render_derived("wanted")
    return sa.tuple_(first, second).in_(sa.select(wanted.c.first, wanted.c.second))
