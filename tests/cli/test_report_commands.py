"""`lifeline reports rebuild`: roll-ups lost or stale (rows restored from a backup, loaded by hand)
are recomputed from the history's derived rows; running it again changes nothing. Migration 0011
computes them the same way for a database that had history before them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine
from typer.testing import CliRunner

from casework.reports.compliance_report import GroupBy, compliance_report
from models.db import session_scope, write_bind
from models.migrate import alembic_config, upgrade
from models.tables import ROLLUP_CASES, ROLLUP_CLOCKS, ROLLUP_ESCALATIONS
from tests.audit.conftest import act, register_p1, sweep
from tests.casework.builders import at, open_one

runner = CliRunner()
DAY = (at(hours=-9), at(hours=15))  # 2026-03-02, the whole UTC day


def _rebuild(db_url: str) -> tuple[int, str, str]:
    from cli.main import app  # noqa: PLC0415

    result = runner.invoke(app, ["reports", "rebuild"], env={"LIFELINE_DATABASE_URL": db_url})
    return result.exit_code, result.stdout, result.stderr


def _report(engine: Engine) -> dict[str, Any]:
    with session_scope(engine, write=False) as session:
        return compliance_report(session, *DAY, GroupBy.PRIORITY)


def test_rebuild_restores_lost_rollups_and_is_idempotent(db_url: str, engine: Engine) -> None:
    register_p1(engine)
    ids = [open_one(engine, now=at(i)).case.id for i in range(3)]
    act(engine, ids[0], "acknowledge", at(10))
    sweep(engine, ids, at(40))
    kept = _report(engine)
    assert kept["source"] == "rollup" and kept["groups"][0]["cases"] == 3
    with engine.begin() as conn:
        for table in (ROLLUP_CASES, ROLLUP_CLOCKS, ROLLUP_ESCALATIONS):
            conn.execute(sa.delete(table))
    assert _report(engine)["groups"] == []

    code, out, err = _rebuild(db_url)

    assert code == 0, err
    assert out.startswith("Rebuilt the compliance roll-ups in ")
    assert "1 rows of rollup_cases, 1 rows of rollup_clocks, 1 rows of rollup_escalations." in out
    assert "read 3 rows of cases" in err
    assert _report(engine) == kept
    assert _rebuild(db_url)[1].split(": ", 1)[1] == out.split(": ", 1)[1]
    assert _report(engine) == kept


def test_migration_0011_backfills_the_rollups_of_a_database_with_history(engine: Engine) -> None:
    """A database that had history before the roll-ups existed reports the same after upgrading."""
    register_p1(engine)
    ids = [open_one(engine, now=at(i)).case.id for i in range(3)]
    act(engine, ids[0], "acknowledge", at(10))
    sweep(engine, ids, at(40))
    kept = _report(engine)
    config = alembic_config()
    with write_bind(engine).begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0010")
    assert not {"rollup_cases", "rollup_clocks"} & set(sa.inspect(engine).get_table_names())

    upgrade(engine)

    assert _report(engine) == kept
