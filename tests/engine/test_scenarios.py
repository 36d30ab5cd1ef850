"""Table-driven scenarios: a bundled policy, a case, timed agent actions and the timeline a careful
person computes by hand (tests/engine/scenarios/*.json; each file's description says what it shows).

Every scenario runs through `lifeline policies simulate --format json`, as a platform would run it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from policies.loader import bundled_policies_dir

SCENARIOS = sorted((Path(__file__).parent / "scenarios").glob("*.json"))


def _comparable(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries without actor and local time, their instants parsed (``Z`` and ``+00:00`` alike)."""
    return [
        {k: datetime.fromisoformat(v.replace("Z", "+00:00")) if k == "at" else v for k, v in e.items()}
        for e in ({k: v for k, v in e.items() if k not in ("actor", "at_local")} for e in entries)
    ]


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_timeline(path: Path, tmp_path: Path) -> None:
    scenario = json.loads(path.read_text())
    case = tmp_path / "case.json"
    case.write_text(json.dumps(scenario["case"]))
    actions = tmp_path / "actions.json"
    actions.write_text(json.dumps(scenario["actions"]))
    args = ["policies", "simulate", str(bundled_policies_dir() / scenario["policy"]), "--case", str(case)]
    args += ["--actions", str(actions), "--format", "json"]
    if "until" in scenario:
        args += ["--until", scenario["until"]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert _comparable(json.loads(result.stdout)["timeline"]) == _comparable(scenario["expected"])


def test_there_are_enough_scenarios_covering_every_bundled_policy_and_calendar() -> None:
    used = {json.loads(p.read_text())["policy"] for p in SCENARIOS}
    bundled = {p.name for p in bundled_policies_dir().glob("*.json")}
    assert len(SCENARIOS) >= 30
    assert used == bundled
