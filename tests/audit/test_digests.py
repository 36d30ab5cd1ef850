"""Signed chain digests: a history cut short (last events deleted, ``last_seq`` lowered) passes the
hash chain check, but not `audit verify --digest` with a digest signed before the cut; a changed
pinned policy version is named as such; a digest whose signature does not hold is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, update
from sqlmodel import col
from typer.testing import CliRunner

from cli.main import app
from flows.sweep_batches import sweep_batch
from models.db import session_scope
from models.tables import Case, CaseEvent
from tests.casework.builders import T0
from tests.flows.scenarios import STEP, open_cases, register_ladder

runner = CliRunner()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "signing.pem"
    result = runner.invoke(app, ["keys", "signing-init", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert "key id" in result.stdout and oct(path.stat().st_mode & 0o777) == "0o600"
    return path


def lifeline(key_file: Path, db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app, [*args, "--database-url", db_url], env={"LIFELINE_SIGNING_KEY_FILE": str(key_file)}
    )
    return result.exit_code, result.stdout, result.stderr


def test_signing_init_never_overwrites_a_key(key_file: Path) -> None:
    before = key_file.read_bytes()
    again = runner.invoke(app, ["keys", "signing-init", "--file", str(key_file)])
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert key_file.read_bytes() == before


def test_a_history_cut_short_after_a_digest_is_named_by_verify_digest(
    engine: Engine, db_url: str, key_file: Path, tmp_path: Path
) -> None:
    register_ladder(engine, STEP)
    cut, repinned, intact = open_cases(engine, 3, T0)
    sweep_batch(engine, T0 + 10 * STEP)
    digest = tmp_path / "digest.json"
    code, out, err = lifeline(key_file, db_url, "audit", "digest", "--new", "--output", str(digest))
    assert code == 0, err
    assert lifeline(key_file, db_url, "audit", "verify", "--digest", str(digest))[0] == 0

    register_ladder(engine, 2 * STEP)  # version 2 of the policy
    with session_scope(engine) as session:  # what an intruder with database access does
        last = session.get(Case, cut)
        assert last is not None
        kept = last.last_seq - 2
        session.execute(delete(CaseEvent).where(col(CaseEvent.case_id) == cut, col(CaseEvent.seq) > kept))
        session.execute(update(Case).where(col(Case.id) == cut).values(last_seq=kept))
        session.execute(update(Case).where(col(Case.id) == repinned).values(policy_version=2))

    code, out, err = lifeline(
        key_file, db_url, "audit", "verify", "--digest", str(digest), "--format", "json"
    )
    report = json.loads(out)
    assert code == 1, err
    problems = {f["case_id"]: f["problem"] for f in report["digest_findings"]}
    assert set(problems) == {cut, repinned}
    assert problems[cut] == f"history truncated: it ends at seq {kept}, the digest has seq {kept + 2}"
    assert (
        problems[repinned].startswith("pinned policy version changed: ")
        and "v1 in the digest" in problems[repinned]
    )
    assert intact not in problems


def test_a_tampered_digest_is_refused(engine: Engine, db_url: str, key_file: Path, tmp_path: Path) -> None:
    register_ladder(engine, STEP)
    [case_id] = open_cases(engine, 1, T0)
    code, out, _ = lifeline(key_file, db_url, "audit", "digest", "--new")
    exported = json.loads(out)
    body = json.loads(exported["body"])
    body["cases"][case_id]["seq"] = 1000  # an edited digest no longer matches its signature
    exported["body"] = json.dumps(body, sort_keys=True, separators=(",", ":"))
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(exported))

    code, _, err = lifeline(key_file, db_url, "audit", "verify", "--digest", str(forged))
    assert code == 2 and "signature does not match" in err


def test_without_a_digest_audit_digest_says_so(engine: Engine, db_url: str, key_file: Path) -> None:
    code, _, err = lifeline(key_file, db_url, "audit", "digest")
    assert code == 1 and "no signed digest yet" in err
