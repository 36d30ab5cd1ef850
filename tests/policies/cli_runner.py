"""Running ``lifeline policies ...`` in-process, as the console script would (for speed), plus the
real console script in a subprocess where the end-to-end path matters."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

import cli.policy_commands  # noqa: F401  (registers validate and lint on policies_app)
from cli.apps import app

LIFELINE = Path(sys.executable).parent / "lifeline"


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def json(self) -> Any:
        return json.loads(self.stdout)


def lifeline(*args: str | Path) -> Run:
    result = CliRunner().invoke(app, ["policies", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def lifeline_subprocess(*args: str | Path, cwd: Path) -> Run:
    done = subprocess.run(
        [str(LIFELINE), "policies", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    return Run(done.returncode, done.stdout, done.stderr)
