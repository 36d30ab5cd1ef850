"""`lifeline db upgrade` from the command line."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import CliRunner

from cli.main import app
from models.db import make_engine
from models.migrate import ensure_schema_current, head_revision

runner = CliRunner()


def test_db_upgrade_migrates_then_leaves_an_up_to_date_database_alone(
    new_database_url: Callable[[], str],
) -> None:
    url = new_database_url()
    first = runner.invoke(app, ["db", "upgrade"], env={"LIFELINE_DATABASE_URL": url})
    assert first.exit_code == 0, first.output
    assert f"upgraded from an empty database to schema revision {head_revision()}" in first.output
    engine = make_engine(url)
    try:
        ensure_schema_current(engine)
    finally:
        engine.dispose()
    again = runner.invoke(app, ["db", "upgrade", "--database-url", url])
    assert again.exit_code == 0 and "already at the latest schema revision" in again.output


def test_db_upgrade_on_an_unreachable_database_exits_2_without_traceback() -> None:
    result = runner.invoke(app, ["db", "upgrade", "--database-url", "sqlite:////nonexistent/dir/x.sqlite"])
    assert result.exit_code == 2
    assert "cannot upgrade the database" in result.output and "Traceback" not in result.output
