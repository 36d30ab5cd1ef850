"""`lifeline policies validate|lint`: check policy files before they are applied.

Output is one line per problem, ``file: /json/pointer: message`` (``/`` is the whole document), or a
JSON list of ``{file, pointer, severity, message}`` with ``--format json``. Exit codes: 0 clean,
2 on any error, 1 on warnings only under ``lint --strict``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from cli.apps import policies_app
from policies.checking import check_paths, has_errors
from policies.diagnostics import Diagnostic, Severity


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


PATHS = typer.Argument(
    ...,
    help="Policy files or folders (a folder: every *.json in it, with calendars from its calendars/ folder).",
    metavar="PATH",
)
CHANNELS = typer.Option(
    None,
    "--channels",
    envvar="LIFELINE_CHANNELS_FILE",
    help="Channels file (JSON); when given, every notify action must name one of its channels.",
    metavar="FILE",
)
FORMAT = typer.Option(OutputFormat.TEXT, "--format", help="text (one line per problem) or json (a list).")


def _report(diagnostics: list[Diagnostic], output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        typer.echo(json.dumps([d.as_dict() for d in diagnostics], indent=2, ensure_ascii=False))
        return
    for diagnostic in diagnostics:
        typer.echo(diagnostic.as_line())


@policies_app.command("validate")
def validate_command(
    paths: list[Path] = PATHS, channels: Path | None = CHANNELS, output: OutputFormat = FORMAT
) -> None:
    """Check policies against the schema and the rules that make them unusable (errors only).

    Exit 0 when every file is valid; else exit 2 with one line per error: file: /json/pointer: message.
    """
    errors = [d for d in check_paths(paths, channels) if d.severity is Severity.ERROR]
    _report(errors, output)
    if errors:
        raise typer.Exit(2)
    if output is OutputFormat.TEXT:
        typer.echo("all policies valid", err=True)


@policies_app.command("lint")
def lint_command(
    paths: list[Path] = PATHS,
    channels: Path | None = CHANNELS,
    output: OutputFormat = FORMAT,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when there are warnings (and no errors)."),
) -> None:
    """Validate, and also report warnings: unreachable stages and rules, repeats that never fire, ...

    Exit 2 on errors; 1 on warnings only with --strict; else 0.
    """
    found = check_paths(paths, channels)
    _report(found, output)
    if has_errors(found):
        raise typer.Exit(2)
    if strict and found:
        raise typer.Exit(1)
    if output is OutputFormat.TEXT and not found:
        typer.echo("no problems found", err=True)
