"""``lifeline policies validate|lint``: exit codes, output lines, JSON output, channels, folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.policies.cli_runner import lifeline, lifeline_subprocess
from tests.policies.conftest import CHANNELS_EXAMPLE, INVALID_DIR, REPO_ROOT, policy_doc, write_json

WritePolicy = Callable[..., Path]


def test_the_real_console_script_validates_the_bundled_folder_and_refuses_an_invalid_file() -> None:
    ok = lifeline_subprocess("validate", "policies/", cwd=REPO_ROOT)
    assert (ok.exit_code, ok.stdout) == (0, "")
    bad = lifeline_subprocess("validate", INVALID_DIR / "warn_at_one.json", cwd=REPO_ROOT)
    assert bad.exit_code == 2
    assert bad.stdout.startswith(
        f"{INVALID_DIR / 'warn_at_one.json'}: /clocks/first_response/warn_at: warn_at must"
    )
    assert "Traceback" not in bad.stderr


def test_lint_of_the_bundled_folder_with_the_sample_channels_is_strictly_clean() -> None:
    run = lifeline("lint", "--strict", "--channels", CHANNELS_EXAMPLE, REPO_ROOT / "policies")
    assert (run.exit_code, run.stdout) == (0, "")


def test_warnings_are_printed_by_lint_only_and_fail_it_only_with_strict(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["stages"][1]["escalate_after"] = "PT4H"
    path = write_policy(doc)
    assert lifeline("validate", path).exit_code == 0
    relaxed = lifeline("lint", path)
    assert relaxed.exit_code == 0
    assert relaxed.lines == [
        f"{path}: /stages/1/escalate_after: warning: " + relaxed.lines[0].split("warning: ")[1]
    ]
    assert lifeline("lint", "--strict", path).exit_code == 1


def test_lint_exits_2_on_errors_and_json_carries_the_severity(write_policy: WritePolicy) -> None:
    doc = policy_doc()
    doc["stages"][1]["escalate_after"] = "PT4H"
    doc["calendar"] = "mars"
    run = lifeline("lint", "--format", "json", write_policy(doc))
    assert run.exit_code == 2
    assert [(e["pointer"], e["severity"]) for e in run.json()] == [
        ("/calendar", "error"),
        ("/stages/1/escalate_after", "warning"),
    ]


def test_validate_json_is_an_empty_list_when_all_is_valid(write_policy: WritePolicy) -> None:
    run = lifeline("validate", "--format", "json", write_policy(policy_doc()))
    assert (run.exit_code, run.json()) == (0, [])


def test_channels_option_checks_every_notify_action(tmp_path: Path, write_policy: WritePolicy) -> None:
    path = write_policy(policy_doc())
    run = lifeline("validate", "--channels", CHANNELS_EXAMPLE, path)
    assert run.exit_code == 0
    channels = write_json(
        tmp_path / "channels.json", {"channels": {"ops": {"url": "http://x/y", "secret": "s"}}}
    )
    run = lifeline("validate", "--channels", channels, path)
    assert run.exit_code == 2
    assert run.lines == [
        f"{path}: /stages/1/on_enter/0/notify: unknown channel 'tns-leads' (the channels file defines: ops)"
        " (line 57)"
    ]


def test_a_bad_channels_file_is_reported_with_its_pointer(tmp_path: Path, write_policy: WritePolicy) -> None:
    channels = write_json(tmp_path / "channels.json", {"channels": {"ops": {"url": "mailto:x"}}})
    run = lifeline("validate", "--channels", channels, write_policy(policy_doc()))
    assert run.exit_code == 2
    assert f"{channels}: /channels/ops: missing required field 'secret'" in run.lines


def test_a_folder_uses_its_own_calendars_and_reports_their_errors(tmp_path: Path) -> None:
    folder = tmp_path / "platform"
    write_json(folder / "sample.json", policy_doc() | {"calendar": "night-desk"})
    assert lifeline("validate", folder).lines == [
        f"{folder / 'sample.json'}: /calendar: unknown calendar 'night-desk' (known: always, it-business)"
        " (line 5)"
    ]
    calendar = {
        "id": "night-desk",
        "timezone": "Europe/Roma",
        "hours": {"monday": [{"start": "22:00", "end": "06:00"}]},
    }
    write_json(folder / "calendars" / "night-desk.json", calendar)
    run = lifeline("validate", folder)
    assert run.exit_code == 2
    assert run.lines[0].startswith(f"{folder / 'calendars' / 'night-desk.json'}: /timezone: 'Europe/Roma'")
    write_json(folder / "calendars" / "night-desk.json", calendar | {"timezone": "Europe/Rome"})
    assert lifeline("validate", folder).exit_code == 0


def test_duplicate_policy_ids_across_files_are_an_error(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", policy_doc())
    write_json(tmp_path / "b.json", policy_doc())
    run = lifeline("validate", tmp_path)
    assert run.exit_code == 2
    assert run.lines == [
        f"{tmp_path / 'b.json'}: /id: policy id 'sample' is also used by {tmp_path / 'a.json'}"
    ]


def test_missing_paths_and_empty_folders_exit_2(tmp_path: Path) -> None:
    run = lifeline("validate", tmp_path / "nope.json", tmp_path)
    assert run.exit_code == 2
    assert run.lines == [
        f"{tmp_path / 'nope.json'}: /: no such file or folder",
        f"{tmp_path}: /: no policy files (*.json) in this folder",
    ]


def test_help_says_what_each_command_does() -> None:
    assert "Validate, lint" in lifeline("--help").stdout
    validate_help = lifeline("validate", "--help").stdout
    assert "exit 2" in validate_help and "--channels" in validate_help and "--format" in validate_help
    assert "--strict" in lifeline("lint", "--help").stdout
