"""Validation in one pass: the lint runs on every part that passed the schema, so a schema error and
an unknown calendar are reported together, each with its JSON pointer and its line in the file."""

from __future__ import annotations

import json
from pathlib import Path

from policies.json_lines import line_of, pointer_lines
from policies.loader import bundled_policies_dir, check_policy_file

BROKEN = """{
  "id": "one-pass",
  "title": "One pass",
  "incident_type": "account_compromised",
  "calendar": "mars-office",
  "priority": {"default": "P2"},
  "clocks": {
    "first_response": {
      "target": "PT1H",
      "warn_at": 2
    },
    "resolution": {"target": "PT8H", "on_warn": [{"notify": "team-lead"}]}
  },
  "stages": [
    {"id": "frontline", "queue": "creator-support", "escalate_after": "PT1H"},
    {"id": "frontline", "queue": "leads"}
  ]
}
"""


def test_a_schema_error_and_lint_errors_come_together_with_pointers_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "one_pass.json"
    path.write_text(BROKEN, encoding="utf-8")
    result = check_policy_file(path)
    assert result.value is None
    found = [(d.pointer, d.line, d.severity.value) for d in result.diagnostics]
    assert found == [
        ("/calendar", 5, "error"),  # lint: unknown calendar
        ("/clocks/first_response/warn_at", 10, "error"),  # schema
        ("/clocks/resolution/on_warn", 12, "error"),  # lint on the clock that passed the schema
        ("/stages/1/id", 16, "error"),  # lint: duplicate stage id
    ]
    lines = {d.pointer: d.as_line() for d in result.diagnostics}
    assert lines["/calendar"].startswith(f"{path}: /calendar: unknown calendar 'mars-office'")
    assert lines["/calendar"].endswith("(line 5)")
    assert result.diagnostics[0].as_dict()["line"] == 5


def test_a_clock_that_failed_the_schema_is_left_out_of_the_lint_but_the_others_are_checked(
    tmp_path: Path,
) -> None:
    doc = json.loads(BROKEN)
    doc["calendar"] = "always"
    doc["clocks"]["first_response"]["on_warn"] = [{"notify": "team-lead"}]  # no lint: its clock is broken
    path = tmp_path / "one_pass.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    pointers = [d.pointer for d in check_policy_file(path).errors]
    assert pointers == ["/clocks/first_response/warn_at", "/clocks/resolution/on_warn", "/stages/1/id"]


def test_every_pointer_of_a_bundled_policy_has_the_line_of_its_key() -> None:
    text = (bundled_policies_dir() / "account_compromised.json").read_text(encoding="utf-8")
    lines = pointer_lines(text)
    source = text.splitlines()
    assert lines[""] == 1
    assert '"first_response"' in source[lines["/clocks/first_response"] - 1]
    assert '"warn_at": 0.75' in source[lines["/clocks/first_response/warn_at"] - 1]
    assert '"partner-management"' in source[lines["/stages/3"] - 1]
    assert line_of(lines, "/clocks/first_response/missing") == lines["/clocks/first_response"]
