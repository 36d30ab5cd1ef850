"""`lifeline policies apply` and `lifeline policies list` against a real database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner

from casework.settings import BUNDLED_POLICIES_DIR
from cli.main import app
from models.tables import PolicyVersion
from tests.casework.builders import open_one, policy_document

runner = CliRunner()


def write(folder: Path, name: str, doc: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(doc, indent=2))
    return path


def lifeline(db_url: str, *args: str) -> Any:
    return runner.invoke(app, [*args, "--database-url", db_url])


def _versions(session: Session) -> int:
    return session.exec(select(func.count()).select_from(PolicyVersion)).one()


def test_apply_registers_changed_policies_only(db_url: str, session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    write(folder, "account_compromised.json", policy_document())
    write(folder, "account_locked.json", policy_document(id="account-locked", incident_type="account_locked"))

    first = lifeline(db_url, "policies", "apply", str(folder))
    assert first.exit_code == 0, first.output
    assert "account-compromised: registered version 1" in first.output
    assert "2 policies: 2 registered, 0 unchanged" in first.output

    again = lifeline(db_url, "policies", "apply", str(folder))
    assert again.exit_code == 0 and "2 policies: 0 registered, 2 unchanged" in again.output
    assert _versions(session) == 2

    # Reformatting a file changes nothing; changing a deadline registers version 2.
    edited = policy_document()
    edited["clocks"]["first_response"]["target"]["P1"] = "PT10M"
    write(folder, "account_compromised.json", edited)
    (folder / "account_locked.json").write_text(
        json.dumps(policy_document(id="account-locked", incident_type="account_locked"), indent=None)
    )
    third = lifeline(db_url, "policies", "apply", str(folder))
    assert "account-compromised: registered version 2" in third.output
    assert "account-locked: unchanged (version 1)" in third.output


def test_apply_with_one_invalid_file_registers_nothing_and_exits_2(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    good = write(tmp_path, "good.json", policy_document())
    bad_doc = policy_document(id="bad-one")
    bad_doc["stages"][0]["escalate_after"] = "two hours"
    bad = write(tmp_path, "bad.json", bad_doc)

    result = lifeline(db_url, "policies", "apply", str(good), str(bad))
    assert result.exit_code == 2
    assert f"{bad}: /stages/0/escalate_after" in result.stdout
    assert "nothing registered" in result.stderr and "Traceback" not in result.output
    assert _versions(session) == 0
    validate = runner.invoke(app, ["policies", "validate", str(good), str(bad)])
    assert validate.exit_code == 2 and result.stdout == validate.stdout


def test_the_bundled_policies_apply(db_url: str, session: Session) -> None:
    result = lifeline(db_url, "policies", "apply", str(BUNDLED_POLICIES_DIR))
    assert result.exit_code == 0, result.output
    assert _versions(session) == len(list(BUNDLED_POLICIES_DIR.glob("*.json")))


def test_list_shows_versions_hashes_and_open_cases(db_url: str, engine: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "p.json", policy_document())
    assert lifeline(db_url, "policies", "apply", str(path)).exit_code == 0
    open_one(engine)
    open_one(engine)

    table = lifeline(db_url, "policies", "list")
    assert table.exit_code == 0, table.output
    line = next(row for row in table.output.splitlines() if row.startswith("account-compromised"))
    assert line.split()[1] == "1" and line.split()[-2:] == ["2", "(latest)"]

    rows = json.loads(lifeline(db_url, "policies", "list", "--json").output)
    assert [(r["policy_id"], r["version"], r["open_cases"], r["latest"]) for r in rows] == [
        ("account-compromised", 1, 2, True)
    ]
    assert len(rows[0]["sha256"]) == 64
