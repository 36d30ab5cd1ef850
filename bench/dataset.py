"""The bulk loader: a database of N cases copied from engine-opened templates (bench/templates.py).

Each copy gets a new id; its events are re-chained (hashes recomputed for the new id, so
`lifeline audit verify` holds), its breach, outbox, clock outcome and escalation rows follow it.
Rows are written with the driver's executemany on SQLite and COPY on PostgreSQL, in chunks, with a
progress bar on stderr.
The compliance roll-ups are then computed from the copied rows (``lifeline reports rebuild``'s
code), as the write path would have kept them. Old notifications are marked delivered (as they
would be in a live system), so a worker started on the database has only new work.

The mix (``Mix``): 1% of the cases due at SWEEP_NOW (at least 1,000), N/10 breaches in all, a
fifth resolved, the rest open and not due. A finished database records its size in ``bench_meta``
and is reused (``reusable``: upgraded first when its schema is behind, e.g. migration 0004
backfills the clock outcomes of a database built before, 0005 its escalation rows).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.progress import Progress
from sqlalchemy import Engine, text
from sqlmodel import col, select

from bench.common import note
from bench.templates import LOADED_AT, OPEN_AGES, RESOLVED, SWEEP_NOW, Template, open_templates
from casework.history.hashchain import GENESIS_HASH, canonical_json, event_body
from casework.history.rollups import rebuild
from models.db import is_sqlite, make_engine, session_scope
from models.migrate import current_revision, head_revision, upgrade
from models.tables import CaseEvent

_ID = "CASEIDSENTINEL00000000000000000"
_PREV = "P" * 64
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHUNK = 5000
#: The fewest due cases of a sweep database (``Mix.sweep``): 1% of 100,000.
MIN_DUE = 1000


@dataclass(frozen=True)
class Mix:
    """How many copies of which templates: ``due`` cases due at ``due_at``, about ``breaches``
    breach rows, ``resolved`` resolved cases; the rest open, not due and without breaches.
    ``not_before``: open cases must have no deadline before it (lateness: none in its window)."""

    total: int
    due: int
    breaches: int
    resolved: int
    due_at: datetime = SWEEP_NOW
    not_before: datetime | None = None

    @classmethod
    def sweep(cls, total: int) -> Mix:
        """1% due, but at least ``MIN_DUE`` (the quick size, 20,000 cases, would have only 200 due:
        a sweep of one batch, mostly the flow's fixed cost, would say little against its floor)."""
        due = max(total // 100, min(total, MIN_DUE))
        return cls(total=total, due=due, breaches=total // 10, resolved=total // 5)


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def plan(templates: Sequence[Template], mix: Mix) -> list[tuple[Template, int]]:
    """How many copies of each template make ``mix`` (round-robin inside each class)."""
    due = [t for t in templates if t.due(mix.due_at)]
    later = [
        t
        for t in templates
        if not t.due(mix.due_at)
        and not t.resolved
        and (mix.not_before is None or t.next_deadline_at is None or t.next_deadline_at > mix.not_before)
    ]
    resolved = [t for t in templates if t.resolved and not t.breaches]
    later += [t for t in templates if t.resolved and t.breaches]
    breached = [t for t in later if t.breaches]
    fresh = [t for t in later if not t.breaches] or later
    counts: dict[str, int] = {}

    def spread(group: list[Template], n: int) -> int:
        if not group or n <= 0:
            return 0
        breaches = 0
        for i, template in enumerate(group):
            k = n // len(group) + (1 if i < n % len(group) else 0)
            counts[template.case_id] = counts.get(template.case_id, 0) + k
            breaches += k * template.breaches
        return breaches

    budget = mix.breaches - spread(due, mix.due) - spread(resolved, mix.resolved)
    mean = sum(t.breaches for t in breached) / len(breached) if breached else 0
    n_breached = min(max(0, math.floor(budget / mean)) if mean else 0, mix.total - mix.due - mix.resolved)
    spread(breached, n_breached)
    spread(fresh, mix.total - mix.due - mix.resolved - n_breached)
    by_id = {t.case_id: t for t in templates}
    return [(by_id[cid], n) for cid, n in counts.items() if n > 0]


class TemplateRows:
    """One template's rows as the driver stores them, ready to copy under a new case id."""

    def __init__(self, engine: Engine, case_id: str) -> None:
        raw = engine.raw_connection()
        mark = "?" if is_sqlite(engine) else "%s"
        try:
            self.case = _rows(raw, mark, "cases", "id", case_id)[0]
            self.events = _rows(raw, mark, "case_events", "case_id", case_id, order="seq")
            self.breaches = _rows(raw, mark, "breaches", "case_id", case_id)
            self.notes = _rows(raw, mark, "notifications", "case_id", case_id)
            self.outcomes = _rows(raw, mark, "clock_outcomes", "case_id", case_id, order="clock")
            self.escalations = _rows(raw, mark, "case_escalations", "case_id", case_id, order="seq")
        finally:
            raw.close()
        self.case_id = case_id
        with session_scope(engine, write=False) as session:
            stored = session.exec(
                select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
            ).all()
            self.bodies = [
                canonical_json({**event_body(e), "case_id": _ID, "prev_hash": _PREV}) for e in stored
            ]
        self.opened_millis = int(_as_datetime(self.case["opened_at"]).timestamp() * 1000)

    def copy(self, serial: int) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
        """The copy's case row and its rows of the other tables (events re-chained)."""
        new_id = "cs_" + _base32(self.opened_millis, 10) + _base32(serial, 16)
        case = {**self.case, "id": new_id}
        events = []
        prev = GENESIS_HASH
        for row, body in zip(self.events, self.bodies, strict=True):
            digest = hashlib.sha256(body.replace(_ID, new_id).replace(_PREV, prev).encode()).hexdigest()
            events.append({**row, "case_id": new_id, "prev_hash": prev, "hash": digest})
            prev = digest
        breaches = [{**row, "case_id": new_id} for row in self.breaches]
        notes = [
            {**row, "case_id": new_id, "payload": str(row["payload"]).replace(self.case_id, new_id)}
            for row in self.notes
        ]
        outcomes = [{**row, "case_id": new_id} for row in self.outcomes]
        escalations = [{**row, "case_id": new_id} for row in self.escalations]
        return case, {
            "case_events": events,
            "breaches": breaches,
            "notifications": notes,
            "clock_outcomes": outcomes,
            "case_escalations": escalations,
        }


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _rows(
    raw: Any, marker: str, table: str, column: str, value: str, order: str = "id"
) -> list[dict[str, Any]]:
    cur = raw.cursor()
    cur.execute(f"SELECT * FROM {table} WHERE {column} = {marker} ORDER BY {order}", (value,))
    names = [d[0] for d in cur.description]
    rows = []
    for values in cur.fetchall():
        row = dict(zip(names, values, strict=True))
        if table != "cases":
            row.pop("id", None)
        rows.append({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    cur.close()
    return rows


def _deliver_old(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE notifications SET status = 'delivered', attempts = 1, "
                "delivered_at = created_at, next_attempt_at = NULL"
            )
        )


def copies(
    rows: Sequence[tuple[TemplateRows, int]],
) -> Iterator[tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]]:
    serial = 0
    for template, n in rows:
        for _ in range(n):
            serial += 1
            yield template.copy(serial)


def insert_chunk(engine: Engine, tables: dict[str, list[dict[str, Any]]]) -> None:
    """Write one chunk in one transaction: executemany on SQLite, COPY on PostgreSQL."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        sqlite = is_sqlite(engine)
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        for table, rows in tables.items():
            if not rows:
                continue
            names = list(rows[0])
            if sqlite:
                marks = ", ".join("?" for _ in names)
                cur.executemany(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",
                    [tuple(r[n] for n in names) for r in rows],
                )
            else:
                with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(tuple(r[n] for n in names))
        if sqlite:
            cur.execute("COMMIT")
        else:
            raw.commit()
        cur.close()
    finally:
        raw.close()


def build(
    url: str,
    mix: Mix,
    loaded_at: datetime = LOADED_AT,
    ages: Sequence[int] = OPEN_AGES,
    resolved: Sequence[tuple[int, int, int]] = RESOLVED,
) -> Engine:
    """Migrate the (empty) database at ``url`` and load ``mix``; returns an engine on it. ``ages``
    and ``resolved`` choose the templates (bench/templates.py): a mix that needs only young open
    cases skips the old ones, whose weeks of repeated notifications take most of the opening."""
    engine = make_engine(url)
    upgrade(engine)
    templates = open_templates(engine, loaded_at, ages, resolved)
    planned = plan(templates, mix)
    _deliver_old(engine)
    rows = [(TemplateRows(engine, t.case_id), n) for t, n in planned]
    note(f"{len(templates)} templates; copying {sum(n for _, n in planned):,} cases")
    chunk: dict[str, list[dict[str, Any]]] = {
        "cases": [],
        "case_events": [],
        "breaches": [],
        "notifications": [],
        "clock_outcomes": [],
        "case_escalations": [],
    }
    done = 0
    with Progress(transient=True) as progress:
        bar = progress.add_task("loading cases", total=sum(n for _, n in planned))
        for case, others in copies(rows):
            chunk["cases"].append(case)
            for table, copied in others.items():
                chunk[table] += copied
            done += 1
            if done % CHUNK == 0:
                insert_chunk(engine, chunk)
                chunk = {k: [] for k in chunk}
                progress.update(bar, completed=done)
        insert_chunk(engine, chunk)
        progress.update(bar, completed=done)
    note("computing the compliance roll-ups of the copied rows (lifeline reports rebuild)")
    with engine.begin() as conn:
        rebuild(conn)
    settle(engine)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS bench_meta (name VARCHAR(100) PRIMARY KEY, value TEXT)")
        )
        conn.execute(text("DELETE FROM bench_meta"))
        conn.execute(text("INSERT INTO bench_meta (name, value) VALUES ('size', :v)"), {"v": str(mix.total)})
    return engine


def reusable(url: str, size: int) -> bool:
    """Whether a finished ``build`` of ``size`` cases is at ``url``; if so its schema is brought to
    the head revision (migrations backfill what they add) and its statistics refreshed."""
    if stored_size(url) != size:
        return False
    engine = make_engine(url)
    try:
        if current_revision(engine) != head_revision():
            note(f"upgrading the {size:,}-case database to the current schema")
            upgrade(engine)
            settle(engine)
    finally:
        engine.dispose()
    return True


def settle(engine: Engine) -> None:
    """Refresh the statistics; on PostgreSQL also VACUUM, which sets the visibility map as
    autovacuum does on a live server after bulk inserts (this machine's server runs with autovacuum
    off): without it every index-only scan (the reports' counts) fetches each row from the heap."""
    if is_sqlite(engine):
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def stored_size(url: str) -> int | None:
    """The size recorded by a finished ``build`` at ``url``; None if absent or unfinished."""
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            value = conn.execute(text("SELECT value FROM bench_meta WHERE name = 'size'")).scalar()
        engine.dispose()
        return int(value) if value is not None else None
    except Exception:
        return None
