"""Driver-level SQL for the floor and for snapshots: rows exactly as the driver stores them.

The floor must cost only the database's work, so it uses the DBAPI connection directly (sqlite3's
executemany, psycopg's pipelined executemany), with values already in the driver's form.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from models.db import is_sqlite

Row = dict[str, Any]
#: The case columns a sweep may change.
CASE_COLUMNS = (
    "status",
    "stage",
    "queue",
    "priority",
    "assignee",
    "attributes",
    "updated_at",
    "resolved_at",
    "next_deadline_at",
    "state",
    "version",
    "last_seq",
)


class Raw:
    """A DBAPI connection with the placeholder style and transaction commands of its database."""

    def __init__(self, engine: Engine) -> None:
        self.sqlite = is_sqlite(engine)
        self.conn = engine.raw_connection()
        self.mark = "?" if self.sqlite else "%s"
        self.cur = self.conn.cursor()

    def instant(self, value: datetime) -> Any:
        """``value`` as the driver compares it with a stored UTC column."""
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds") if self.sqlite else utc

    def begin(self) -> None:
        if self.sqlite:
            self.cur.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.sqlite:
            self.cur.execute("COMMIT")
        else:
            self.conn.commit()

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.cur.execute(sql.replace("?", self.mark), tuple(params))
        names = [d[0] for d in self.cur.description]
        return [
            {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in zip(names, r, strict=True)}
            for r in self.cur.fetchall()
        ]

    def by_ids(self, table: str, column: str, ids: Sequence[str]) -> list[Row]:
        rows: list[Row] = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ", ".join("?" for _ in part)
            rows += self.select(f"SELECT * FROM {table} WHERE {column} IN ({marks})", part)
        return rows

    def insert(self, table: str, rows: Sequence[Row]) -> None:
        if not rows:
            return
        names = list(rows[0])
        marks = ", ".join(self.mark for _ in names)
        self.cur.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",
            [tuple(r[n] for n in names) for r in rows],
        )

    def delete_ids(self, table: str, column: str, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ", ".join(self.mark for _ in part)
            self.cur.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", tuple(part))

    def upsert(self, table: str, key: Sequence[str], rows: Sequence[Row]) -> None:
        """Derived rows (clock outcomes, escalations) as they are after the sweep (insert, or
        replace the stored row of the same ``key``)."""
        if not rows:
            return
        names = list(rows[0])
        marks = ", ".join(self.mark for _ in names)
        sets = ", ".join(f"{n} = excluded.{n}" for n in names if n not in key)
        self.cur.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}",
            [tuple(r[n] for n in names) for r in rows],
        )

    def update_cases(self, rows: Sequence[Row]) -> None:
        sets = ", ".join(f"{c} = {self.mark}" for c in CASE_COLUMNS)
        self.cur.executemany(
            f"UPDATE cases SET {sets} WHERE id = {self.mark}",
            [tuple(r[c] for c in CASE_COLUMNS) + (r["id"],) for r in rows],
        )

    def close(self) -> None:
        self.cur.close()
        self.conn.close()


@contextmanager
def raw(engine: Engine) -> Iterator[Raw]:
    handle = Raw(engine)
    try:
        yield handle
    finally:
        handle.close()
