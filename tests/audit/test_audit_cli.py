"""`lifeline audit verify|export` as an auditor types them: exit codes, text and JSON, files."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from cli.main import app
from tests.audit.conftest import WorkedCases
from tests.audit.tampering import delete_event, seq_of

runner = CliRunner()


def _invoke(db_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["audit", *args], env={"LIFELINE_DATABASE_URL": db_url})
    return result.exit_code, result.stdout, result.stderr


def test_verify_exits_0_on_a_clean_database(db_url: str, worked_cases: WorkedCases) -> None:
    code, out, _ = _invoke(db_url, "verify")

    assert code == 0
    assert "Checked 2 cases, 17 events" in out and "Clean" in out
    assert "Lateness of 4 timed events (recorded_at - at): p50 60.000 s, p99 60.000 s, max 60.000 s" in out


def test_verify_exits_1_and_names_case_and_seq_after_a_deletion(
    db_url: str, engine: Engine, worked_cases: WorkedCases
) -> None:
    seq = seq_of(engine, worked_cases.worked, "breached")
    delete_event(engine, worked_cases.worked, seq)

    code, out, _ = _invoke(db_url, "verify")
    json_code, json_out, _ = _invoke(db_url, "verify", "--format", "json")

    assert code == 1 and f"CHAIN  case {worked_cases.worked} seq {seq}: seq_gap" in out
    report = json.loads(json_out)
    assert json_code == 1 and report["clean"] is False
    assert [(p["case_id"], p["seq"]) for p in report["chain_problems"]] == [(worked_cases.worked, seq)]
    # The quiet case alone is still clean.
    assert _invoke(db_url, "verify", "--case", worked_cases.quiet)[0] == 0


def test_verify_refuses_bad_input_with_exit_2(db_url: str, worked_cases: WorkedCases) -> None:
    code, _, err = _invoke(db_url, "verify", "--since", "yesterday")
    assert code == 2 and "--since: 'yesterday' is not an ISO 8601 instant" in err
    code, _, err = _invoke(db_url, "verify", "--since", "2026-03-02T09:00:00")
    assert code == 2 and "no UTC offset" in err
    code, _, err = _invoke(db_url, "verify", "--case", "cs_nope")
    assert code == 2 and "no case 'cs_nope'" in err


def test_export_writes_the_period_to_a_file(db_url: str, worked_cases: WorkedCases, tmp_path: Path) -> None:
    out_file = tmp_path / "events.jsonl"
    code, _, err = _invoke(
        db_url,
        "export",
        "--from",
        "2026-03-02T09:31:00Z",
        "--to",
        "2026-03-02T09:40:00Z",
        "-o",
        str(out_file),
    )
    csv_file = tmp_path / "events.csv"
    csv_code, _, csv_err = _invoke(db_url, "export", "--format", "csv", "--output", str(csv_file))

    assert code == 0 and "Exported 3 events" in err
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [r["kind"] for r in rows] == ["breached", "escalated", "notified"]
    assert csv_code == 0 and "Exported 17 events" in csv_err
    assert len(csv_file.read_text().splitlines()) == 18  # a header and 17 events


def test_export_refuses_an_inverted_period(db_url: str, tmp_path: Path) -> None:
    code, _, err = _invoke(
        db_url,
        "export",
        "--from",
        "2026-03-03T00:00:00Z",
        "--to",
        "2026-03-02T00:00:00Z",
        "-o",
        str(tmp_path / "x"),
    )
    assert code == 2 and "--from must be before --to" in err
