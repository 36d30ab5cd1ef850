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
