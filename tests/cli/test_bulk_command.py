"""`lifeline cases bulk` as an agent types it: a filter's or a list's cases, per-case results, exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from typer.testing import CliRunner

from casework import api_keys
from casework.cases.lifecycle import apply_action, open_case
from casework.queries.case_queries import get_case
from models.db import session_scope
from models.kinds import Role
from tests.casework.builders import CREATOR, register

#: The command acts at the real now: cases open a minute before it, so few timers fall due.
T0 = datetime.now(UTC) - timedelta(minutes=1)

runner = CliRunner()


def _invoke(db_url: str, *args: str) -> tuple[int, str, str]:
    from cli.main import app  # noqa: PLC0415

    result = runner.invoke(app, ["cases", "bulk", *args], env={"LIFELINE_DATABASE_URL": db_url})
    return result.exit_code, result.stdout, result.stderr


def _open(engine: Engine, count: int, queue_creator: str = "cr_1") -> list[str]:
    attributes = {**CREATOR, "creator": {**CREATOR["creator"], "id": queue_creator}}
    with session_scope(engine) as session:
        return [
            open_case(
                session, incident_type="account_compromised", attributes=attributes, actor="agent:ana", now=T0
            ).case.id
            for _ in range(count)
        ]


def test_bulk_acknowledges_what_the_filter_selects_and_reports_each_case(db_url: str, engine: Engine) -> None:
    register(engine, now=T0)
    wave = _open(engine, 120)
    other = _open(engine, 3, "cr_other")
    with session_scope(engine) as session:
        apply_action(session, wave[0], "resolve", {}, "agent:ana", T0)

    code, out, err = _invoke(
        db_url, "acknowledge", "--filter", "creator=cr_1", "--actor", "agent:bo", "--json"
    )

    answer = json.loads(out)
    assert code == 1  # one case could not be acknowledged
    assert answer["total"] == 120
    assert answer["counts"] == {"done": 119, "stale": 0, "forbidden": 1, "not_found": 0, "invalid": 0}
    assert {r["case_id"]: r["result"] for r in answer["results"]}[wave[0]] == "forbidden"
    assert "acknowledge on 120 cases: 119 done, 1 forbidden" in err
    code, out, _ = _invoke(db_url, "acknowledge", "--filter", "creator=cr_other", "--filter", "status=open")
    assert code == 0
    assert out.strip() == f"acknowledge on {len(other)} cases: {len(other)} done"


def _agent(engine: Engine, name: str) -> None:
    with session_scope(engine) as session:
        api_keys.create_key(session, name, Role.AGENT, T0)


def test_bulk_on_listed_cases_checks_their_versions(db_url: str, engine: Engine) -> None:
    register(engine, now=T0)
    _agent(engine, "ana")
    first, second = _open(engine, 2)

    code, out, _ = _invoke(
        db_url, "assign", "--arg", "assignee=ana", "--case", f"{first}:1", "--case", f"{second}:7"
    )

    assert code == 1
    assert out.strip() == "assign on 2 cases: 1 done, 1 stale"


def test_bad_input_exits_2_saying_what(db_url: str, engine: Engine) -> None:
    register(engine, now=T0)
    _agent(engine, "bo")
    _agent(engine, "ana")
    (case_id,) = _open(engine, 1)
    for args, message in [
        (["dance", "--filter", "status=open"], "unknown action 'dance'"),
        (["acknowledge"], "either --filter"),
        (["acknowledge", "--filter", "stauts=open"], "unknown filter 'stauts'"),
        (["acknowledge", "--filter", "status=opened"], "--filter status"),
        (["acknowledge", "--case", "cs_1"], "ID:VERSION"),
        (["assign", "--arg", "assignee=nobody", "--filter", "status=open"], "known agents: ana, bo"),
        (["assign", "--arg", "assignee=me", "--actor", "agent:cy", "--case", f"{case_id}:1"], "'cy'"),
        (["assign", "--arg", "queue=moon", "--case", f"{case_id}:1"], "'moon' is not a known queue"),
    ]:
        code, _, err = _invoke(db_url, *args)
        assert code == 2, args
        assert message in err, (args, err)
    with session_scope(engine) as session:  # refused before any case: nothing changed
        assert get_case(session, case_id).version == 1
