"""Each file in tests/policies/invalid/ is refused with exactly the pointers (and messages) that
invalid/expected.json lists: by the loader, and by ``lifeline policies validate`` (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policies.loader import check_policy_file, policy_files
from tests.policies.cli_runner import lifeline
from tests.policies.conftest import INVALID_DIR

EXPECTED: dict[str, list[dict[str, str]]] = json.loads((INVALID_DIR / "expected.json").read_text())
CASES = sorted(EXPECTED)


def test_there_are_at_least_25_invalid_examples_and_each_has_an_expectation() -> None:
    files = {p.name for p in policy_files(INVALID_DIR)} - {"expected.json"}
    assert len(files) >= 25
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", CASES)
def test_loader_reports_exactly_the_expected_errors(name: str) -> None:
    result = check_policy_file(INVALID_DIR / name)
    assert result.value is None
    found = [(d.pointer, d.message) for d in result.errors]
    assert sorted(p for p, _ in found) == sorted(e["pointer"] for e in EXPECTED[name]), found
    for expected in EXPECTED[name]:
        messages = [m for p, m in found if p == expected["pointer"]]
        assert any(expected["message"] in m for m in messages), (expected, found)


@pytest.mark.parametrize("name", CASES)
def test_validate_command_exits_2_and_prints_file_pointer_and_message(name: str) -> None:
    path = INVALID_DIR / name
    run = lifeline("validate", path)
    assert run.exit_code == 2
    for expected in EXPECTED[name]:
        prefix = f"{path}: {expected['pointer'] or '/'}: "
        assert any(line.startswith(prefix) and expected["message"] in line for line in run.lines), run.stdout


def test_validate_json_format_lists_every_error_of_every_file(tmp_path: Path) -> None:
    names = CASES[:3]
    run = lifeline("validate", "--format", "json", *(INVALID_DIR / n for n in names))
    assert run.exit_code == 2
    entries = run.json()
    assert {(Path(e["file"]).name, e["pointer"]) for e in entries} == {
        (n, e["pointer"]) for n in names for e in EXPECTED[n]
    }
    assert all(e["severity"] == "error" and e["message"] for e in entries)
