"""Benchmark 1, `sweep`: escalate the due cases (1%, at least 1,000) of N open cases with the real
`escalation-sweep` flow, against the floor: the same writes in raw SQL.

Per backend: load (or reuse) the database; snapshot the due cases; run the flow in a child process
(bench/sweep_runner.py, forked: Prefect warmed first, flow runs until nothing is due at SWEEP_NOW);
capture what it wrote; restore the snapshot; replay exactly those writes with driver-level SQL,
batch by batch (claim the same ids with the same query, update the same case rows, insert the same
event, breach and outbox rows, upsert the same clock outcome and escalation rows, add the same sums
to the compliance roll-ups (bench/sweep_rollups.py; since 2026-12-04, "2026-12-04 (Friday)" in
bench/README.md), one transaction per batch);
restore again, so the database can be reused. ``--rounds`` such flow/floor pairs per database
(3 at full size, 1 with ``--quick``), each flow in a child of its own; the figures are the round
whose ratio is the median, every round's on stderr. Figures: seconds (ratio sweep/floor, target
<= 2), escalations per second, the sweep process's peak memory.

    python -m bench.sweep [--quick] [--backends sqlite,postgresql] [--rounds 3]
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Engine, text

from bench.common import (
    Figure,
    backend_of,
    backends,
    database_url,
    drop_database,
    emit,
    note,
    parser,
    prefect_environment,
    prefork,
)
from bench.dataset import Mix, build, reusable
from bench.prefect_server import shared_prefect
from bench.rawsql import Row, raw
from bench.sweep_rollups import CaseRows, RollupReplay, read_inputs
from bench.templates import SWEEP_NOW
from flows.sweep_batches import DEFAULT_BATCH_SIZE
from models.db import is_sqlite, make_engine

FULL, QUICK = 1_000_000, 20_000
TABLES = ("case_events", "breaches", "notifications")
#: The rows kept per case from its events (casework.history.clock_outcomes), by their keys.
DERIVED = {"clock_outcomes": ("case_id", "clock"), "case_escalations": ("case_id", "seq")}
#: The compliance roll-ups the sweep adds to (casework/history/rollups.py): a few rows per day and
#: group, kept whole by the snapshot (before 2026-12-03 each run left them shifted by one sweep).
ROLLUPS = ("rollup_cases", "rollup_clocks", "rollup_escalations")


@dataclass
class Snapshot:
    """The due cases as they were, the last row id of each table the sweep appends to, the due
    cases' derived rows and the roll-up tables whole."""

    cases: list[Row]
    last_ids: dict[str, int]
    derived: dict[str, list[Row]]
    rollups: dict[str, list[Row]]
    #: The due cases' roll-up inputs (bench/sweep_rollups.py), typed.
    rollup_inputs: dict[str, CaseRows]

    @classmethod
    def take(cls, engine: Engine) -> Snapshot:
        with raw(engine) as db:
            cases = db.select("SELECT * FROM cases WHERE next_deadline_at <= ?", [db.instant(SWEEP_NOW)])
            last = {t: int(db.select(f"SELECT COALESCE(MAX(id), 0) AS m FROM {t}")[0]["m"]) for t in TABLES}
            derived = {t: db.by_ids(t, "case_id", [c["id"] for c in cases]) for t in DERIVED}
            rollups = {t: db.select(f"SELECT * FROM {t}") for t in ROLLUPS}
        return cls(cases, last, derived, rollups, read_inputs(engine, [c["id"] for c in cases]))

    def written(self, engine: Engine) -> Writes:
        """What was written since: the due cases' new rows, the appended rows (without ids), and
        what each batch added to the roll-ups (as statements to replay: ``RollupReplay``)."""
        ids = [c["id"] for c in self.cases]
        replay = RollupReplay(
            is_sqlite(engine), self.rollup_inputs, read_inputs(engine, ids), self.rollups["rollup_clocks"]
        )
        return Writes(self._rows(engine), replay, rollup_tables(engine))

    def _rows(self, engine: Engine) -> dict[str, list[Row]]:
        with raw(engine) as db:
            found: dict[str, list[Row]] = {"cases": db.by_ids("cases", "id", [c["id"] for c in self.cases])}
            for table in TABLES:
                rows = db.select(f"SELECT * FROM {table} WHERE id > ? ORDER BY id", [self.last_ids[table]])
                found[table] = [{k: v for k, v in r.items() if k != "id"} for r in rows]
            for table in DERIVED:
                found[table] = db.by_ids(table, "case_id", [c["id"] for c in self.cases])
        return found

    def restore(self, engine: Engine) -> None:
        with raw(engine) as db:
            db.begin()
            for table in TABLES:
                db.cur.execute(f"DELETE FROM {table} WHERE id > {db.mark}", (self.last_ids[table],))
            db.update_cases(self.cases)
            for table, rows in self.derived.items():
                db.delete_ids(table, "case_id", [c["id"] for c in self.cases])
                db.insert(table, rows)
            for table, rows in self.rollups.items():
                db.cur.execute(f"DELETE FROM {table}")
                db.insert(table, rows)
            db.commit()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"VACUUM ANALYZE cases, {', '.join((*TABLES, *DERIVED, *ROLLUPS))}"))


@dataclass
class Writes:
    """What the sweep wrote: rows by table, its roll-up statements per batch, and the roll-up
    tables as it left them (the floor must leave them the same: ``floor`` checks)."""

    rows: dict[str, list[Row]]
    rollups: RollupReplay
    rollups_after: dict[str, list[Row]]


def rollup_tables(engine: Engine) -> dict[str, list[Row]]:
    """The roll-up tables' rows, sorted (a sketch's text is its bins in order: comparable)."""
    with raw(engine) as db:
        return {t: sorted(db.select(f"SELECT * FROM {t}"), key=repr) for t in ROLLUPS}


class FloorRun(NamedTuple):
    """The floor's wall seconds and this process's CPU seconds in it, and the cases it claimed."""

    seconds: float
    cases: int
    cpu: float


def floor(engine: Engine, written: Writes, batch_size: int) -> FloorRun:
    """Replay ``written`` batch by batch with raw SQL. What each batch adds to the roll-ups is
    computed off the clock (``RollupReplay.batch``: neither its wall nor its CPU seconds count); the
    roll-up tables must end as the sweep left them (else AssertionError: the floor would not be
    the same writes)."""
    writes = written.rows
    by_case: dict[str, dict[str, list[Row]]] = {}
    for table in TABLES:
        for row in writes[table]:
            by_case.setdefault(row["case_id"], {t: [] for t in TABLES})[table].append(row)
    new_cases = {c["id"]: c for c in writes["cases"]}
    derived: dict[str, dict[str, list[Row]]] = {t: {} for t in DERIVED}
    for table, of_case in derived.items():
        for row in writes[table]:
            of_case.setdefault(row["case_id"], []).append(row)
    lock = "" if engine.dialect.name == "sqlite" else " FOR UPDATE SKIP LOCKED"
    done = 0
    with raw(engine) as db:
        claim = (
            f"SELECT id FROM cases WHERE next_deadline_at <= {db.mark} "
            f"ORDER BY next_deadline_at, id LIMIT {db.mark}{lock}"
        )
        now = db.instant(SWEEP_NOW)
        off_clock = off_cpu = 0.0
        start, cpu = time.perf_counter(), time.process_time()
        while True:
            db.begin()
            db.cur.execute(claim, (now, batch_size))
            ids = [r[0] for r in db.cur.fetchall()]
            computed, computed_cpu = time.perf_counter(), time.process_time()
            rollups = written.rollups.batch(ids)
            off_clock += time.perf_counter() - computed
            off_cpu += time.process_time() - computed_cpu
            db.update_cases([new_cases[i] for i in ids])
            for table in TABLES:
                db.insert(table, [row for i in ids for row in by_case.get(i, {}).get(table, [])])
            for table, key in DERIVED.items():
                db.upsert(table, key, [row for i in ids for row in derived[table].get(i, [])])
            for sql, params in rollups:
                db.cur.executemany(sql, params)
            db.commit()
            done += len(ids)
            if len(ids) < batch_size:
                break
        seconds = time.perf_counter() - start - off_clock
        cpu = time.process_time() - cpu - off_cpu
    assert rollup_tables(engine) == written.rollups_after, "the floor's roll-ups differ from the sweep's"
    return FloorRun(seconds, done, cpu)


def run_flow(url: str, batch_size: int) -> dict[str, float]:
    """The flow over every due case (bench/sweep_runner.py) in a child forked from this process now."""
    return prefork_flows([url], batch_size)[url][0]()


def prefork_flows(
    urls: list[str], batch_size: int, rounds: int = 1
) -> dict[str, list[Callable[[], dict[str, Any]]]]:
    """Per database, ``rounds`` children forked now, each sweeping it once when called
    (bench/common.py ``prefork``).
    Forked once Prefect and the flows are imported (``prefect_ready``) and before any snapshot or
    floor: each child is a sweep process without a Python start and those imports (~1.7 s), whose
    peak memory is what it took plus the imports, as a process of its own would have, not the
    snapshots this one holds (a child forked after them read 309 MiB at 1,000,000 cases)."""
    from bench.sweep_runner import run

    prefect_ready()
    return {
        url: [prefork(functools.partial(run, url, SWEEP_NOW, batch_size)) for _ in range(rounds)]
        for url in urls
    }


def prefect_ready() -> None:
    """Prefect's benchmark environment (bench/common.py) in this process, then Prefect and the
    flows imported (Prefect reads its settings when first imported)."""
    for name, value in prefect_environment().items():
        os.environ.setdefault(name, value)
    # Importing `flows` made INFO the default (flows/prefect_settings.py): a line per task run here.
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    import flows.sweep  # noqa: F401


def dataset(backend: str, size: int, admin_url: str) -> str:
    url = database_url(backend, f"n{size}", admin_url)
    if reusable(url, size):
        note(f"{backend}: reusing the {size:,}-case database")
        return url
    drop_database(url, admin_url)
    note(f"{backend}: loading {size:,} cases")
    started = time.perf_counter()
    build(url, Mix.sweep(size)).dispose()
    emit(
        Figure("sweep", f"load_cases_per_second_{backend}", size / (time.perf_counter() - started), "cases/s")
    )
    return url


def bench_backend(url: str, batch_size: int, flows: Sequence[Callable[[], dict[str, Any]]]) -> None:
    """Snapshot; then per round, a ``flow`` (a child forked before any snapshot: ``prefork_flows``)
    and the floor of what it wrote, alternated. The figures are the round whose ratio is the
    median: on a shared host one pair's ratio moved by a quarter within the hour (bench/README.md,
    "2026-12-04 (Friday)"), mostly with the floor; each round's figures go to stderr."""
    backend = backend_of(url)
    engine = make_engine(url)
    snapshot = Snapshot.take(engine)
    note(f"{backend}: {len(snapshot.cases):,} cases due; sweeping with the escalation-sweep flow")
    rounds: list[tuple[dict[str, Any], float]] = []
    for done, flow in enumerate(flows, 1):
        result = flow()
        written = snapshot.written(engine)
        snapshot.restore(engine)
        floor_seconds, floor_cases, _ = floor(engine, written, batch_size)
        snapshot.restore(engine)
        assert floor_cases == result["cases"], (floor_cases, result["cases"])
        note(
            f"{backend}: round {done}: flow {result['seconds']:.2f} s, floor {floor_seconds:.2f} s, "
            f"ratio {result['seconds'] / floor_seconds:.3f} ({int(result['cases']):,} cases)"
        )
        rounds.append((result, floor_seconds))
    engine.dispose()
    result, floor_seconds = sorted(rounds, key=lambda r: r[0]["seconds"] / r[1])[len(rounds) // 2]
    cases = result["changed_cases"]
    emit(Figure("sweep", f"sweep_seconds_{backend}", result["seconds"], "s", floor_seconds))
    emit(
        Figure(
            "sweep",
            f"escalations_per_second_{backend}",
            cases / result["seconds"],
            "cases/s",
            cases / floor_seconds,
        )
    )
    emit(Figure("sweep", f"sweep_rounds_{backend}", len(rounds), "rounds"))
    emit(Figure("sweep", f"events_written_{backend}", result["events"], "rows"))
    # The flow process's garbage collections during the sweep (flows/heap.py): what tuning them saves.
    emit(Figure("sweep", f"sweep_gc_seconds_{backend}", result["gc_seconds"], "s"))
    emit(Figure("sweep", f"sweep_gc_collections_{backend}", result["gc_collections"], "collections"))
    emit(Figure("memory", f"sweep_process_peak_rss_{backend}", result["peak_rss_mb"], "MiB", 300))
    if result.get("lane_peak_rss_mb"):  # SQLite's lane processes (flows.sweep_lanes): the larger one
        emit(Figure("memory", f"sweep_lane_peak_rss_{backend}", result["lane_peak_rss_mb"], "MiB", 300))


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--prepare", action="store_true", help="only load (or find) the databases")
    p.add_argument("--rounds", type=int, help="flow/floor pairs per database (3 at full size, 1 --quick)")
    args = p.parse_args()
    size = QUICK if args.quick else FULL
    rounds = args.rounds or (1 if args.quick else 3)
    urls = [dataset(backend, size, args.postgres) for backend in backends(args)]
    if args.prepare:
        return
    with shared_prefect(args.postgres):
        flows = prefork_flows(urls, args.batch_size, rounds)
        for url in urls:
            bench_backend(url, args.batch_size, flows[url])


if __name__ == "__main__":
    main()
