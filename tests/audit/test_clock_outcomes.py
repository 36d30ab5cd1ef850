"""The stored clock outcomes (clock_outcomes) and escalations (case_escalations) say what the events
say, through agent actions and the sweep, with reopen, pause, priority change and escalations by hand
and by the sweep; migrations 0004 and 0005 rebuild them from the events."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable
from typing import Any

from alembic import command
from sqlalchemy import Engine, text
from sqlmodel import select

from casework.audit.stats import percentile
from casework.reports import compliance_report as reports_module
from casework.reports.compliance_report import GroupBy, compliance_report
from models.db import make_engine, session_scope, write_bind
from models.migrate import MIGRATIONS_DIR, alembic_config, migrate
from models.tables import CaseEvent
from sla_engine.kinds import SYSTEM_ACTOR
from tests.audit.conftest import act, register_p1, run_verify, sweep
from tests.audit.test_compliance_report import STANDARD
from tests.casework.builders import at, open_one


def _migration(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, MIGRATIONS_DIR / "versions" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


m0004 = _migration("0004_clock_outcomes")
m0005 = _migration("0005_case_escalations")


def history(engine: Engine) -> dict[str, str]:
    """Cases worked through every path that decides a clock."""
    register_p1(engine)
    a = open_one(engine, now=at(0)).case.id  # P1: request_info pauses resolution; resolve, reopen
    b = open_one(engine, now=at(5)).case.id  # P1: breached first (sweep), then acknowledged
    c = open_one(engine, now=at(0), attributes=STANDARD).case.id  # P2, priority set to P1, resolved
    d = open_one(engine, now=at(10), attributes=STANDARD).case.id  # P2: escalated by the sweep only
    e = open_one(engine, now=at(12), attributes=STANDARD).case.id  # P2: escalated by hand, then P1
    act(engine, a, "acknowledge", at(10))
    act(engine, a, "request_info", at(20))
    act(engine, a, "creator_replied", at(50))
    act(engine, a, "resolve", at(80))
    act(engine, a, "reopen", at(90))  # resolution runs again: its last stop stays the 80-minute one
    sweep(engine, [b, d], at(30))
    act(engine, b, "acknowledge", at(35))
    act(engine, c, "set_priority", at(40), priority="P1")
    act(engine, c, "resolve", at(45))
    act(engine, e, "escalate", at(20))
    act(engine, e, "set_priority", at(25), priority="P1")
    sweep(engine, [a, b, c, d, e], at(400))
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def stored(engine: Engine, table: str = "clock_outcomes") -> list[tuple[Any, ...]]:
    order = "case_id, seq" if table == "case_escalations" else "case_id, clock"
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))]


def rebuilt(engine: Engine, table: str = "clock_outcomes") -> list[tuple[Any, ...]]:
    """The rows migration 0004's (or 0005's) backfill derives from the events alone."""
    migration = m0005 if table == "case_escalations" else m0004
    with engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text(migration.backfill_sql(engine.dialect.name)))
    return stored(engine, table)


def reports(engine: Engine) -> list[dict[str, Any]]:
    with session_scope(engine, write=False) as session:
        return [compliance_report(session, at(-60), at(600), g) for g in GroupBy]


def test_stored_outcomes_equal_the_events(engine: Engine) -> None:
    ids = history(engine)
    written = stored(engine)
    report = reports(engine)

    assert written and written == rebuilt(engine)
    assert reports(engine) == report
    by_case = {(r[0], r[1]): r for r in written}
    # c's priority changed after its first outcome: its rows carry the current priority.
    assert by_case[ids["c"], "first_response"][6] == "P1"
    # a was reopened after resolving: resolution keeps the stop at 80 minutes until it stops again.
    with session_scope(engine, write=False) as session:
        events = session.exec(select(CaseEvent).where(CaseEvent.case_id == ids["a"])).all()
    stops = [e.seq for e in events if e.kind == "clock_stopped" and e.data.get("clock") == "resolution"]
    reopened = max(e.seq for e in events if e.kind == "status_changed" and e.data["to"] == "open")
    assert by_case[ids["a"], "resolution"][9] == max(stops) < reopened
    assert not run_verify(engine, now=at(600)).chain_problems


def test_stored_escalations_equal_the_events(engine: Engine) -> None:
    ids = history(engine)
    written = stored(engine, "case_escalations")
    report = reports(engine)

    assert written == rebuilt(engine, "case_escalations")
    assert reports(engine) == report
    with session_scope(engine, write=False) as session:
        events = session.exec(select(CaseEvent).where(CaseEvent.kind == "escalated")).all()
    assert sorted((e.case_id, e.seq, e.data.get("to"), e.actor != SYSTEM_ACTOR) for e in events) == [
        (r[0], r[1], r[8], bool(r[9])) for r in written
    ]
    e_rows = [r for r in written if r[0] == ids["e"]]
    # e was escalated by hand, then its priority changed: its rows carry the current priority.
    assert e_rows[0][9] and {r[6] for r in e_rows} == {"P1"}
    d_rows = [r for r in written if r[0] == ids["d"]]
    assert d_rows and not any(r[9] for r in d_rows)
    # Escalations move the case to the stage's queue: the rows carry the current queue.
    with engine.connect() as conn:
        queues: dict[str, str] = dict(conn.execute(text("SELECT id, queue FROM cases")).tuples().all())
    assert all(r[7] == queues[r[0]] for r in written)


def test_reopened_then_resolved_again_counts_the_last_stop(engine: Engine) -> None:
    ids = history(engine)
    act(engine, ids["a"], "resolve", at(500))
    assert stored(engine) == rebuilt(engine)
    with engine.connect() as conn:
        working = conn.execute(
            text("SELECT working_micros FROM clock_outcomes WHERE case_id = :c AND clock = 'resolution'"),
            {"c": ids["a"]},
        ).scalar()
    # 80 minutes open - 30 paused = 50, then reopened 90..500: 460 minutes of working time.
    assert working == 460 * 60 * 10**6


def test_upgrading_a_database_with_history_reports_the_same(
    new_database_url: Callable[[], str],
) -> None:
    url = new_database_url()
    migrate(url)
    engine = make_engine(url)
    try:
        history(engine)
        before, rows = reports(engine), stored(engine)
        escalations = stored(engine, "case_escalations")
        assert escalations
        config = alembic_config()
        with write_bind(engine).begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0003")
            command.upgrade(config, "head")
        assert stored(engine) == rows
        assert stored(engine, "case_escalations") == escalations
        assert reports(engine) == before
    finally:
        engine.dispose()


def test_percentiles_of_microseconds_equal_those_of_the_seconds() -> None:
    """The report sorts the stops' microseconds and divides only the two ranks it reads: the same
    float as casework.audit.stats.percentile of every stop in seconds."""
    rng = random.Random(7)
    for n in (1, 2, 3, 10, 101, 1000):
        micros = [rng.choice([0, rng.randrange(10**12), rng.randrange(10**6)]) for _ in range(n)]
        seconds = [m / 10**6 for m in micros]
        assert reports_module._quantiles(micros) == {
            "median": percentile(seconds, 50),
            "p90": percentile(seconds, 90),
        }
    assert reports_module._quantiles([]) == {"median": None, "p90": None}
