"""`lifeline audit verify|export`: prove the history is intact and as the policy required, and export it.

``verify`` exits 0 when every hash chain holds and every replay matches, 1 when anything is found,
2 on bad input (a malformed instant, an unknown case, a database that is unreachable or behind).
``export`` writes the events recorded in a period to a file with a progress bar on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from casework.audit.digests import (
    check_against_digest,
    configured_key_id,
    latest_digest,
    load_signing_key,
    read_digest,
    write_digest,
)
from casework.audit.export import ExportFormat, count_events, lines
from casework.audit.verify import render_text, verify
from casework.errors import CaseNotFound
from casework.settings import get_settings
from cli.apps import audit_app
from cli.common import DatabaseUrl, domain_errors, fail, open_database, parse_instant
from models.db import session_scope


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@audit_app.command("verify")
def verify_command(
    case: Annotated[str | None, typer.Option("--case", help="Verify only this case id.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only cases with an event recorded at or after (ISO 8601).")
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.TEXT,
    digest: Annotated[
        Path | None,
        typer.Option("--digest", help="A signed chain digest (`audit digest`) the history must still reach."),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Check every case's hash chain and replay its agent actions under its pinned policy version.

    Reports any automatic escalation, breach, warning or notification that is missing, extra, or at
    another time, with case, seq and both versions; and the lateness of timed events (p50, p99,
    max). With ``--digest``, also every case whose history no longer reaches its digested head (cut
    short, rewritten, gone) or whose pinned policy version changed. Exit code 0 when clean, 1 when
    anything is found, 2 for a digest that is not signed as it should be."""
    since_at = parse_instant(since, "--since")
    document = _read_digest_file(digest) if digest is not None else None
    with open_database(database_url) as engine, session_scope(engine, write=False) as session:
        try:
            report = verify(session, datetime.now(UTC), case_id=case, since=since_at)
        except CaseNotFound:
            fail(f"--case: no case {case!r} in this database")
        findings = check_against_digest(session, document) if document is not None else []
    if output is OutputFormat.JSON:
        extra = {} if document is None else {"digest_findings": [f.to_dict() for f in findings]}
        typer.echo(json.dumps({**report.to_dict(), **extra}, indent=2, default=str))
    else:
        typer.echo(render_text(report))
        if document is not None:
            typer.echo(f"digest of {document['created_at']}: {len(findings)} case(s) no longer match")
            for finding in findings:
                typer.echo(f"  {finding.case_id}: {finding.problem}")
    raise typer.Exit(0 if report.clean and not findings else 1)


def _read_digest_file(path: Path) -> dict[str, Any]:
    """The digest's signed document; exit 2 if the file is unreadable or its signature is wrong (or,
    with LIFELINE_SIGNING_KEY_FILE set, it was signed by another key)."""
    try:
        exported = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"--digest: {path}: {exc}")
    key_file = get_settings().signing_key_file
    with domain_errors():
        return read_digest(exported, configured_key_id(key_file))


@audit_app.command("digest")
def digest_command(
    output: Annotated[
        Path | None, typer.Option("--output", help="Write it to this file (default: stdout).")
    ] = None,
    new: Annotated[
        bool,
        typer.Option("--new", help="Sign a digest of the history now first (LIFELINE_SIGNING_KEY_FILE)."),
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Export the latest signed chain digest, for auditors to keep outside the database; later,
    `audit verify --digest FILE` names every case whose history no longer reaches it."""
    key_file = get_settings().signing_key_file
    if new and key_file is None:
        fail("--new: set LIFELINE_SIGNING_KEY_FILE (made by `lifeline keys signing-init`)")
    with open_database(database_url) as engine, domain_errors():
        if new and key_file is not None:
            key = load_signing_key(key_file)
            with session_scope(engine) as session:
                write_digest(session, key, datetime.now(UTC))
        with session_scope(engine, write=False) as session:
            latest = latest_digest(session)
    if latest is None:
        fail("no signed digest yet: the worker writes one when LIFELINE_SIGNING_KEY_FILE is set", code=1)
    text = json.dumps(latest, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"Wrote the digest of {json.loads(latest['body'])['created_at']} to {output}.")


@audit_app.command("export")
def export_command(
    output_file: Annotated[Path, typer.Option("--output", "-o", help="File to write.", dir_okay=False)],
    period_from: Annotated[
        str | None, typer.Option("--from", help="Events recorded at or after (ISO 8601; default: the first).")
    ] = None,
    period_to: Annotated[
        str | None, typer.Option("--to", help="Events recorded before (ISO 8601; default: now).")
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = ExportFormat.JSONL,
    database_url: DatabaseUrl = None,
) -> None:
    """Write every event recorded in [--from, --to) with its actor, times, policy version and hash
    chain, streamed (constant memory), with a progress bar on stderr."""
    start = parse_instant(period_from, "--from")
    end = parse_instant(period_to, "--to") or datetime.now(UTC)
    if start is not None and start >= end:
        fail("--from must be before --to")
    with open_database(database_url) as engine, session_scope(engine, write=False) as session:
        total = count_events(session, start, end)
        written = _write(output_file, lines(session, fmt, start, end), total, fmt)
    typer.echo(f"Exported {written} events to {output_file}", err=True)


def _write(path: Path, rows: Iterator[str], total: int, fmt: ExportFormat) -> int:
    columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    written = -1 if fmt is ExportFormat.CSV else 0  # the CSV header is not an event
    try:
        handle = path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        fail(f"--output: cannot write {path}: {exc.strerror}")
    with handle, Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("export", total=total)
        for line in rows:
            handle.write(line)
            written += 1
            if written > 0 and written % 1000 == 0:
                progress.update(task, completed=written)
        progress.update(task, completed=max(written, 0))
    return max(written, 0)
