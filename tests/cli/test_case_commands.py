"""`lifeline cases show`: the case view of the API, read from the database by an operator."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.main import app
from tests.casework.builders import T0, open_one, register

runner = CliRunner()


def test_show_prints_the_case_view_with_its_stage_and_clocks(db_url: str, engine: Engine) -> None:
    register(engine)
    case = open_one(engine).case

    result = runner.invoke(app, ["cases", "show", case.id, "--database-url", db_url])

    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert (view["id"], view["status"], view["priority"]) == (case.id, "open", "P2")
    assert view["stage"]["id"] == "frontline" and view["stage"]["index"] == 0
    assert [c["name"] for c in view["clocks"]] == ["first_response", "resolution"]
    assert view["clocks"][0]["due_at"] == (T0 + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert view["summary"] == "account taken over, 2FA changed"


def test_show_an_unknown_case_exits_2_naming_it(db_url: str, engine: Engine) -> None:
    register(engine)

    result = runner.invoke(app, ["cases", "show", "cs_nope", "--database-url", db_url])

    assert result.exit_code == 2
    assert "no case with id 'cs_nope'" in result.stderr
