"""Reading one policy file for a command, with errors printed as `policies validate` prints them."""

from __future__ import annotations

from pathlib import Path

import typer

from policies.loader import calendars_for, check_policy_file
from policies.model import Calendar, Policy


def load_one_policy(path: Path) -> tuple[Policy, Calendar]:
    """The policy at ``path`` and its calendar (from the file's ``calendars/`` folder, else the
    bundled ones). On any error: one ``file: /pointer: message`` line each on stderr, exit 2."""
    calendars, problems = calendars_for(path.parent.resolve())
    result = check_policy_file(path, calendars, label=str(path))
    errors = list(result.errors) + [d for d in problems if d.severity == "error"]
    if result.value is None or errors:
        for diagnostic in errors:
            typer.echo(diagnostic.as_line(), err=True)
        raise typer.Exit(2)
    return result.value, calendars[result.value.calendar]
