"""`lifeline keys` and `lifeline demo`: what an operator types to get a key and a live demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import select
from typer.testing import CliRunner

from api.app import create_app
from casework.cases.escalations import apply_due_timers, claim_due_cases
from cli.common import prepare_database
from cli.demo_command import CASES, run_demo
from cli.main import app
from models.db import make_engine, session_scope
from models.migrate import ensure_schema_current
from models.tables import Breach, Case, CaseEvent
from sla_engine.kinds import EventKind

runner = CliRunner()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday, within Rome's business hours


def _invoke(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"LIFELINE_DATABASE_URL": db_url})
    return result.exit_code, result.stdout, result.stderr


def test_a_created_key_is_printed_once_works_and_stops_working_when_revoked(
    db_url: str, engine: Engine
) -> None:
    code, out, _ = _invoke(db_url, "keys", "create", "--role", "auditor", "--name", "iris")
    assert code == 0
    secret = next(word for word in out.split() if word.startswith("ll_"))
    with TestClient(create_app(engine)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/v1/breaches", headers=headers).status_code == 200
        assert client.post("/v1/cases", headers=headers, json={"incident_type": "x"}).status_code == 403

        listed = _invoke(db_url, "keys", "list")[1]
        assert "iris\tauditor" in listed and secret not in listed
        assert _invoke(db_url, "keys", "revoke", "iris")[0] == 0
        assert client.get("/v1/breaches", headers=headers).status_code == 401


def test_key_mistakes_exit_2_with_a_message(db_url: str) -> None:
    assert _invoke(db_url, "keys", "create", "--role", "agent", "--name", "ana")[0] == 0

    taken = _invoke(db_url, "keys", "create", "--role", "agent", "--name", "ana")
    spaced = _invoke(db_url, "keys", "create", "--role", "agent", "--name", "ana maria")
    unknown = _invoke(db_url, "keys", "revoke", "nobody")
    bad_role = _invoke(db_url, "keys", "create", "--role", "root", "--name", "x")

    assert taken[0] == 2 and "already named 'ana'" in taken[2]
    assert spaced[0] == 2 and "without spaces" in spaced[2]
    assert unknown[0] == 2 and "nobody" in unknown[2]
    assert bad_role[0] == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_keys_refuse_a_database_that_needs_upgrading(new_database_url) -> None:  # type: ignore[no-untyped-def]
    code, _, err = _invoke(new_database_url(), "keys", "create", "--role", "agent", "--name", "a")
    assert code == 2 and "lifeline db upgrade" in err


def test_demo_cases_breach_and_escalate_within_minutes(db_url: str) -> None:
    result = run_demo(db_url, now=NOW)

    assert len(result.case_ids) == len(CASES) == 12
    assert result.key is not None
    assert result.key.secret.startswith("ll_") and result.key.role == "agent"
    engine = make_engine(db_url)
    try:
        with session_scope(engine, write=False) as session:
            deadlines = session.exec(select(Case.next_deadline_at)).all()
        soon = [d for d in deadlines if d is not None and NOW < d <= NOW + timedelta(minutes=10)]
        assert len(soon) == 10, deadlines
        _sweep(engine, NOW + timedelta(minutes=20))
        with session_scope(engine, write=False) as session:
            breaches = session.exec(select(func.count()).select_from(Breach)).one()
            escalated = session.exec(
                select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == EventKind.ESCALATED)
            ).one()
    finally:
        engine.dispose()
    assert (breaches, escalated) == (14, 2)


def _sweep(engine: Engine, now: datetime) -> None:
    while True:
        with session_scope(engine) as session:
            cases = claim_due_cases(session, now)
            if not cases:
                return
            apply_due_timers(session, cases, now)


def test_serve_migrates_a_new_sqlite_file_but_refuses_a_postgres_schema_behind(
    backend: str,
    new_database_url,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = new_database_url()
    if backend == "sqlite":
        prepare_database(url)
        engine = make_engine(url)
        try:
            ensure_schema_current(engine)  # raises if it were not migrated
        finally:
            engine.dispose()
        return
    with pytest.raises(typer.Exit) as exit_info:
        prepare_database(url)
    assert exit_info.value.exit_code == 2
    assert "lifeline db upgrade" in capsys.readouterr().err
