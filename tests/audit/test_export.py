"""The audit export: what each row holds, the period on recorded_at, and constant memory at 200,000
events (bulk-inserted rows: the export reads the table, it does not care how rows got there)."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Generator
from datetime import timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy import Engine

from casework.audit.export import COLUMNS, ExportFormat, export_chunks
from models.db import session_scope
from models.tables import Case, CaseEvent, PolicyVersion
from tests.audit.conftest import WorkedCases
from tests.casework.builders import T0, at


def _export(engine: Engine, fmt: ExportFormat, **period: object) -> str:
    return b"".join(export_chunks(engine, fmt, period.get("start"), period.get("end"))).decode()  # type: ignore[arg-type]


def test_jsonl_rows_say_who_when_recorded_under_which_policy_with_the_chain(
    engine: Engine, worked_cases: WorkedCases
) -> None:
    rows = [json.loads(line) for line in _export(engine, ExportFormat.JSONL).splitlines()]

    assert [r["seq"] for r in rows if r["case_id"] == worked_cases.worked] == list(range(1, 12))
    escalated = next(r for r in rows if r["kind"] == "escalated")
    assert list(escalated) == list(COLUMNS)
    assert escalated["actor"] == "system:escalation" and escalated["policy_id"] == "test-policy"
    assert (escalated["at"], escalated["recorded_at"]) == (
        "2026-03-02T09:30:00.000000+00:00",
        "2026-03-02T09:31:00.000000+00:00",
    )
    assert escalated["policy_version"] == 1 and escalated["data"]["to"] == "security"
    worked = [r for r in rows if r["case_id"] == worked_cases.worked]
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(worked, worked[1:], strict=False))
    assert [r["recorded_at"] for r in rows] == sorted(r["recorded_at"] for r in rows)


def test_the_period_is_half_open_on_recorded_at_and_csv_has_a_header(
    engine: Engine, worked_cases: WorkedCases
) -> None:
    # 09:31 wrote the breach, the escalation and its notification (at 09:30); 09:40 the note.
    text = _export(engine, ExportFormat.CSV, start=at(31), end=at(40))

    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["kind"], r["at"][11:19]) for r in rows] == [
        ("breached", "09:30:00"),
        ("escalated", "09:30:00"),
        ("notified", "09:30:00"),
    ]
    assert json.loads(rows[0]["data"])["stage"] == "frontline" and rows[0]["dedupe_key"]
    assert _export(engine, ExportFormat.CSV, start=at(60)) == ",".join(COLUMNS) + "\n"


def _bulk_history(engine: Engine, cases: int, per_case: int) -> None:
    """``cases`` x ``per_case`` events inserted with executemany (hashes are placeholders)."""
    data = {"clock": "first_response", "note": "x" * 200}
    with session_scope(engine) as session:
        session.add(
            PolicyVersion(
                policy_id="p", version=1, incident_type="t", sha256="0" * 64, document="{}", registered_at=T0
            )
        )
        session.flush()
        case_rows = [
            {
                "id": f"cs_{n:06d}", "incident_type": "t", "policy_id": "p", "policy_version": 1,
                "status": "open", "stage": "s", "queue": "q", "priority": "P2", "attributes": {},
                "opened_at": T0, "updated_at": T0, "state": {}, "version": 1, "last_seq": per_case,
            }
            for n in range(cases)
        ]  # fmt: skip
        session.execute(sa.insert(Case.__table__), case_rows)  # type: ignore[attr-defined]
        for n in range(cases):
            session.execute(
                sa.insert(CaseEvent.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "case_id": f"cs_{n:06d}",
                        "seq": s,
                        "kind": "note_added",
                        "at": T0 + timedelta(seconds=s),
                        "recorded_at": T0 + timedelta(seconds=s),
                        "actor": "agent:ana",
                        "data": data,
                        "policy_version": 1,
                        "dedupe_key": None,
                        "prev_hash": "a" * 64,
                        "hash": "b" * 64,
                    }
                    for s in range(1, per_case + 1)
                ],  # fmt: skip
            )


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


#: One bulk history for both streaming checks: 100,000 events (~40 MB of JSON, and several times that
#: as rows in Python: a buffered read on either database would show well above the bounds below).
BULK_CASES, BULK_PER_CASE = 1000, 100


def test_exporting_100000_events_streams_from_the_first_rows_in_constant_memory(engine: Engine) -> None:
    _bulk_history(engine, cases=BULK_CASES, per_case=BULK_PER_CASE)

    # The whole export (first, on a fresh heap): the process's resident memory, which sees the
    # driver's C buffers too, stays flat to the last row.
    rss_before, rss_peak, lines = _rss_bytes(), 0, 0
    for chunk in export_chunks(engine, ExportFormat.JSONL, None, None):
        lines += chunk.count(b"\n")
        rss_peak = max(rss_peak, _rss_bytes())
    assert lines == BULK_CASES * BULK_PER_CASE
    assert rss_peak - rss_before < 24 * 2**20, f"RSS grew by {(rss_peak - rss_before) / 2**20:.1f} MiB"

    # The first chunks come before the rows are all read: Python allocations stay bounded while the
    # first 20,000 rows stream (tracemalloc is slow, so it watches a prefix only).
    prefix = cast("Generator[bytes, None, None]", export_chunks(engine, ExportFormat.JSONL, None, None))
    tracemalloc.start()
    try:
        lines = 0
        for chunk in prefix:
            lines += chunk.count(b"\n")
            if lines >= 20_000:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        prefix.close()  # a client that stops reading
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"Python allocations peaked at {peak / 2**20:.1f} MiB"
