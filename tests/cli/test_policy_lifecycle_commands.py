"""`lifeline policies migrate|retire` and `policies apply --dry-run` as an admin types them: tables,
JSON, exit codes, and a migrated database that `lifeline audit verify` finds clean."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from casework.cases.lifecycle import open_case
from casework.errors import PolicyRetired
from models.db import session_scope
from policies.loader import bundled_policies_dir
from tests.casework.builders import CREATOR, register
from tests.engine.builders import PARTNER_RULE, make_policy

#: The commands act at the real now: cases open a minute before it.
T0 = datetime.now(UTC) - timedelta(minutes=1)
STANDARD = {**CREATOR, "creator": {**CREATOR["creator"], "tier": "standard"}, "impact": {"monetized": False}}

runner = CliRunner()


def _invoke(db_url: str, *args: str) -> tuple[int, str, str]:
    from cli.main import app  # noqa: PLC0415

    result = runner.invoke(app, list(args), env={"LIFELINE_DATABASE_URL": db_url})
    return result.exit_code, result.stdout, result.stderr


def _open(engine: Engine, count: int, attributes: dict[str, Any] = STANDARD) -> list[str]:
    with session_scope(engine) as session:
        return [
            open_case(
                session, incident_type="account_compromised", attributes=attributes, actor="agent:ana", now=T0
            ).case.id
            for _ in range(count)
        ]


def _two_versions(engine: Engine) -> None:
    register(engine, make_policy(rules=[PARTNER_RULE]), now=T0 - timedelta(days=1))


def _stricter(engine: Engine) -> None:
    register(
        engine,
        make_policy(rules=[PARTNER_RULE], first_response={"P1": "PT5M", "P2": "PT30M", "P3": "PT2H"}),
        now=T0,
    )


def test_migrate_dry_run_then_rebase_then_audit_verify_is_clean(db_url: str, engine: Engine) -> None:
    _two_versions(engine)
    ids = _open(engine, 200)
    _stricter(engine)
    base = ["policies", "migrate", "test-policy", "--to", "2", "--mode", "rebase"]

    code, table, err = _invoke(db_url, *base, "--dry-run")
    json_code, out, _ = _invoke(db_url, *base, "--dry-run", "--format", "json")

    assert code == 0 and json_code == 0
    assert "test-policy to version 2 (rebase): 200 open cases, 200 migrated" in err and "dry run" in err
    lines = [line for line in table.splitlines() if line.startswith(ids[0])]
    fr = next(line for line in lines if "clock first_response" in line)
    due_before = (T0 + timedelta(hours=1)).isoformat()[:19].replace("T", " ")
    due_after = (T0 + timedelta(minutes=30)).isoformat()[:19].replace("T", " ")
    assert fr.split()[1:3] == ["migrated", "1->2"] and due_before in fr and fr.endswith(due_after)
    answer = json.loads(out)
    assert answer["dry_run"] is True and answer["counts"]["migrated"] == 200
    code, out, _ = _invoke(db_url, "policies", "list", "--json")
    assert {(v["version"], v["open_cases"]) for v in json.loads(out)} == {(1, 200), (2, 0)}  # nothing written

    code, _, err = _invoke(db_url, *base)

    assert code == 0 and "200 migrated" in err
    code, out, _ = _invoke(db_url, "policies", "list", "--json")
    assert {(v["version"], v["open_cases"]) for v in json.loads(out)} == {(1, 0), (2, 200)}
    code, out, _ = _invoke(db_url, "audit", "verify")
    assert code == 0 and "Checked 200 cases" in out and "Clean" in out
    code, _, err = _invoke(db_url, *base)  # again: each case is on version 2 already
    assert code == 0 and "200 unchanged" in err


def test_migrate_where_narrows_and_bad_input_exits_2(db_url: str, engine: Engine) -> None:
    _two_versions(engine)
    partners = _open(engine, 2, CREATOR)  # P1
    _open(engine, 3)  # P2
    _stricter(engine)

    code, out, _ = _invoke(
        db_url, "policies", "migrate", "test-policy", "--to", "2", "--mode", "recompute",
        "--where", "priority=P1", "--format", "json",
    )  # fmt: skip

    assert code == 0
    assert sorted(r["case_id"] for r in json.loads(out)["results"]) == sorted(partners)
    for args, message in [
        (["nope", "--to", "1"], "policy 'nope' is not registered"),
        (["test-policy", "--to", "9"], "version 9 is not registered"),
        (["test-policy", "--to", "other:1"], "a version of policy 'other'"),
        (["test-policy", "--to", "2", "--where", "colour=red"], "unknown filter 'colour'"),
        (["test-policy", "--to", "2", "--mode", "shuffle"], "shuffle"),
    ]:
        code, _, err = _invoke(db_url, "policies", "migrate", *args)
        assert code == 2 and message in err, (args, err)


def test_retire_stops_new_cases_and_keeps_open_ones(db_url: str, engine: Engine) -> None:
    _two_versions(engine)
    open_ids = _open(engine, 2)

    code, out, _ = _invoke(db_url, "policies", "retire", "test-policy")

    assert code == 0 and "test-policy: retired at" in out and "2 open cases keep it" in out
    with pytest.raises(PolicyRetired, match="test-policy"):
        _open(engine, 1)
    code, out, _ = _invoke(db_url, "policies", "list")
    assert "(latest)  (retired)" in out and " 2  (latest)" in out
    code, _, err = _invoke(db_url, "policies", "retire", "nope")
    assert code == 2 and "'nope' is not registered" in err
    assert len(open_ids) == 2


def test_apply_dry_run_prints_the_pointer_diff_and_the_open_cases_and_registers_nothing(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    policy_file = folder / "account_compromised.json"
    shutil.copy(bundled_policies_dir() / "account_compromised.json", policy_file)
    shutil.copy(bundled_policies_dir() / "account_locked.json", folder / "account_locked.json")
    code, _, _ = _invoke(db_url, "policies", "apply", str(folder))
    assert code == 0
    with session_scope(engine) as session:
        open_case(session, policy_id="account-compromised", attributes=CREATOR, actor="agent:ana", now=T0)
    document = json.loads(policy_file.read_text())
    old_target = document["clocks"]["first_response"]["target"]["P1"]
    document["clocks"]["first_response"]["target"]["P1"] = "PT10M"
    document["clocks"]["resolution"]["description"] = "Solved for good."
    removed = document["clocks"]["first_response"].pop("description")
    policy_file.write_text(json.dumps(document))

    code, out, err = _invoke(db_url, "policies", "apply", "--dry-run", str(folder))
    json_code, json_out, _ = _invoke(
        db_url, "policies", "apply", "--dry-run", "--format", "json", str(folder)
    )

    assert code == 0 and json_code == 0, err
    assert "account-compromised: would register version 2" in out and "1 open cases pin version 1" in out
    assert f'  ~ /clocks/first_response/target/P1: "{old_target}" -> "PT10M"' in out
    assert '  + /clocks/resolution/description: "Solved for good."' in out
    assert f"  - /clocks/first_response/description: {json.dumps(removed)}" in out
    assert "account-locked: unchanged (version 1)" in out
    assert "dry run: 1 of 2 would change; nothing registered" in err
    planned = {row["policy_id"]: row for row in json.loads(json_out)}
    assert planned["account-compromised"]["open_cases_on_registered_version"] == 1
    assert {
        "op": "changed",
        "pointer": "/clocks/first_response/target/P1",
        "old": old_target,
        "new": "PT10M",
    } in (planned["account-compromised"]["changes"])
    assert planned["account-locked"]["changes"] == []
    code, out, _ = _invoke(db_url, "policies", "list", "--json")
    assert {(v["policy_id"], v["version"]) for v in json.loads(out)} == {
        ("account-compromised", 1),
        ("account-locked", 1),
    }
