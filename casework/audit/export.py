"""Exporting case histories for auditors: every event recorded in a period, with its hash chain,
as JSON Lines or CSV, streamed in constant memory.

The period is on ``recorded_at`` (when an event was written), half-open ``[start, end)``: the
history is append-only, so an exported period never changes afterwards and consecutive periods
never overlap or leave a gap, however late a timed event was recorded. Within a period events come
in recording order (``recorded_at``, then insertion order, which is seq order within a case).

Each row says who did it (``actor``: ``agent:<key name>``, ``system:escalation``, ...), when it took
effect (``at``), when it was recorded (``recorded_at``), under which policy (``policy_id``,
``policy_version``), and its place in the chain (``seq``, ``prev_hash``, ``hash``), so an auditor can
re-verify the chain of every case whose history is wholly inside the export. Datetimes are UTC ISO
8601 with microseconds, exactly as they enter the hash (casework.history.hashchain).

Rows are read with a server-side cursor (``yield_per``) and written in chunks, so memory stays flat
whatever the number of events.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from casework.history.hashchain import utc_iso
from models.db import session_scope
from models.tables import Case, CaseEvent

#: The fields of each exported event, in CSV column order.
COLUMNS = (
    "case_id",
    "seq",
    "kind",
    "at",
    "recorded_at",
    "actor",
    "policy_id",
    "policy_version",
    "dedupe_key",
    "data",
    "prev_hash",
    "hash",
)
BATCH = 1000
#: Where each of COLUMNS comes from.
_SOURCE = (
    CaseEvent.case_id,
    CaseEvent.seq,
    CaseEvent.kind,
    CaseEvent.at,
    CaseEvent.recorded_at,
    CaseEvent.actor,
    Case.policy_id,
    CaseEvent.policy_version,
    CaseEvent.dedupe_key,
    CaseEvent.data,
    CaseEvent.prev_hash,
    CaseEvent.hash,
)


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


MEDIA_TYPES = {ExportFormat.JSONL: "application/x-ndjson", ExportFormat.CSV: "text/csv; charset=utf-8"}


def _period(query: Any, start: datetime | None, end: datetime | None) -> Any:
    if start is not None:
        query = query.where(col(CaseEvent.recorded_at) >= start)
    if end is not None:
        query = query.where(col(CaseEvent.recorded_at) < end)
    return query


def count_events(session: Session, start: datetime | None, end: datetime | None) -> int:
    """How many events the period holds (for a progress bar)."""
    return int(session.exec(_period(select(func.count()).select_from(CaseEvent), start, end)).one())


def iter_events(
    session: Session, start: datetime | None, end: datetime | None, batch: int = BATCH
) -> Iterator[dict[str, Any]]:
    """The period's events as plain dicts (``COLUMNS``), fetched ``batch`` rows at a time."""
    query = (
        sa.select(*[col(c) for c in _SOURCE])
        .join(Case, col(Case.id) == col(CaseEvent.case_id))
        .order_by(col(CaseEvent.recorded_at), col(CaseEvent.id))
    )
    rows = session.execute(_period(query, start, end).execution_options(yield_per=batch))
    for row in rows:
        item = dict(zip(COLUMNS, row, strict=True))
        item["kind"] = str(item["kind"])
        item["at"] = utc_iso(item["at"])
        item["recorded_at"] = utc_iso(item["recorded_at"])
        yield item


def jsonl_lines(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    for item in items:
        yield json.dumps(item, ensure_ascii=False, sort_keys=False, separators=(",", ":")) + "\n"


def csv_lines(items: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The header line, then one line per event; ``data`` is its JSON text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for item in items:
        item["data"] = json.dumps(item["data"], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        writer.writerow([item[c] if item[c] is not None else "" for c in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def lines(session: Session, fmt: ExportFormat, start: datetime | None, end: datetime | None) -> Iterator[str]:
    items = iter_events(session, start, end)
    return csv_lines(items) if fmt is ExportFormat.CSV else jsonl_lines(items)


def export_chunks(
    engine: Engine,
    fmt: ExportFormat,
    start: datetime | None,
    end: datetime | None,
    chunk_bytes: int = 64 * 1024,
) -> Iterator[bytes]:
    """The export as UTF-8 chunks of about ``chunk_bytes``, read in its own read-only transaction
    (opened on the first ``next`` and closed when the iterator ends or is closed): what the API
    streams. A CSV export of an empty period is just its header; a JSONL one is empty."""
    with session_scope(engine, write=False) as session:
        pending: list[str] = []
        size = 0
        for line in lines(session, fmt, start, end):
            pending.append(line)
            size += len(line)
            if size >= chunk_bytes:
                yield "".join(pending).encode("utf-8")
                pending, size = [], 0
        if pending:
            yield "".join(pending).encode("utf-8")
