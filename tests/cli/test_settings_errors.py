"""A LIFELINE_* variable its setting refuses: every command exits 2 naming the variable and why,
before it touches anything (no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.errors import SettingsInvalid
from casework.settings import get_settings
from cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("LIFELINE_SWEEP_PROCESSES", "abc", "valid integer"),
        ("LIFELINE_SWEEP_PROCESSES", "99", "less than or equal to 16"),
        ("LIFELINE_MAX_BACKDATE", "soon", "valid timedelta"),
    ],
)
def test_a_refused_setting_is_an_exit_2_naming_the_variable(
    variable: str, value: str, says: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(variable, value)
    database = tmp_path / "untouched.sqlite"

    result = runner.invoke(app, ["worker", "--database-url", f"sqlite:///{database}"])

    assert result.exit_code == 2, result.output
    assert f"{variable}={value!r}" in result.output and says in result.output
    assert "Traceback" not in result.output and not database.exists()
    with pytest.raises(SettingsInvalid) as raised:
        get_settings()
    assert [p.split("=")[0] for p in raised.value.problems] == [variable]


def test_sweep_processes_defaults_to_two_and_reads_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIFELINE_SWEEP_PROCESSES", raising=False)
    assert get_settings().sweep_processes == 2
    monkeypatch.setenv("LIFELINE_SWEEP_PROCESSES", "0")
    assert get_settings().sweep_processes == 0
