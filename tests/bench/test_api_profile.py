"""bench/api_profile.py's two in-process measures of what the listing and an open compute beyond
their floors: they run against the current services (the benchmarks are not in `make test`, so a
changed signature would otherwise pass unnoticed) and time real work on real rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bench.api_profile import listing_answer_cpu_ms, open_answer_cpu_ms
from bench.templates import attributes, register_bundled
from casework.cases.lifecycle import open_case
from models.db import session_scope
from models.tables import Case


def test_the_answers_are_timed_on_a_page_of_cases_and_on_opens_that_write_nothing(
    engine: Engine, db_url: str
) -> None:
    now = datetime.now(UTC)
    register_bundled(engine, now - timedelta(days=60))
    with session_scope(engine) as session:
        for _ in range(3):
            open_case(
                session,
                incident_type="account_compromised",
                attributes=attributes("standard", now),
                actor="agent:test",
                now=now,
            )
    with session_scope(engine, write=False) as session:
        assert {c.queue for c in session.query(Case)} == {"creator-support"}  # the page it lists

    assert 0 < listing_answer_cpu_ms(db_url, rounds=2, pages=5) < 1_000
    assert 0 < open_answer_cpu_ms(db_url, rounds=2, opens=5) < 1_000
    with session_scope(engine, write=False) as session:
        assert session.query(Case).count() == 3  # nothing of the timed opens is written
