"""`lifeline policies apply PATH...` and `lifeline policies list`: the policy registry.

Apply is all or nothing: every file is loaded and checked first; if any has an error, the errors are
printed (one ``file: /pointer: message`` line each, as `policies validate` prints them), nothing is
registered and the exit code is 2. Otherwise each policy whose canonical content changed gets a new
version, in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from casework import policy_registry
from casework.settings import get_settings
from cli.apps import policies_app
from models.db import session_scope
from models.schema import SchemaError, open_database
from policies.channels import check_channels_file
from policies.diagnostics import Diagnostic, LoadResult
from policies.loader import calendars_for, check_policy_file, policy_files
from policies.model import Policy

DATABASE_OPTION = typer.Option(None, "--database-url", help="Database (default: LIFELINE_DATABASE_URL).")


def _fail(lines: Collection[str]) -> NoReturn:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(2)


def _channel_names() -> Collection[str] | None:
    """The channels of LIFELINE_CHANNELS_FILE, or None (not checked) when it is not set."""
    path = get_settings().channels_file
    if path is None:
        return None
    result = check_channels_file(path)
    if result.value is None:
        _fail([d.as_line() for d in result.errors])
    return set(result.value)


def _check_paths(paths: list[Path], channels: Collection[str] | None) -> list[LoadResult[Policy]]:
    results: list[LoadResult[Policy]] = []
    for path in paths:
        if path.is_dir():
            calendars, problems = calendars_for(path)
            if problems:
                results.append(LoadResult(str(path / "calendars"), None, tuple(problems)))
            results += [check_policy_file(p, calendars, channels) for p in policy_files(path)]
        elif path.is_file():
            calendars, problems = calendars_for(path.parent)
            results.append(check_policy_file(path, calendars, channels))
        else:
            results.append(
                LoadResult(str(path), None, (Diagnostic(str(path), "", "no such file or directory"),))
            )
    return results


def load_all_or_fail(paths: list[Path]) -> list[tuple[str, Policy]]:
    """Every policy of ``paths`` (files or folders) with its file; exits 2 printing every error."""
    results = _check_paths(paths, _channel_names())
    errors = [d for r in results for d in r.errors]
    seen: dict[str, str] = {}
    for r in results:
        if r.value is not None:
            if r.value.id in seen:
                errors.append(
                    Diagnostic(r.file, "/id", f"policy id {r.value.id!r} is also used by {seen[r.value.id]}")
                )
            seen[r.value.id] = r.file
    if errors:
        _fail([d.as_line() for d in errors] + [f"{len(errors)} error(s): nothing registered"])
    return [(r.file, r.value) for r in results if r.value is not None]


@contextmanager
def _database(database_url: str | None) -> Iterator[Engine]:
    url = database_url or get_settings().database_url
    try:
        engine = open_database(url)
    except SchemaError as exc:
        _fail([f"error: {exc}"])
    except SQLAlchemyError as exc:
        _fail([f"error: cannot open the database: {getattr(exc, 'orig', None) or exc}"])
    try:
        yield engine
    finally:
        engine.dispose()


@policies_app.command("apply")
def apply(
    paths: Annotated[list[Path], typer.Argument(help="Policy files or folders of policies.")],
    database_url: str | None = DATABASE_OPTION,
) -> None:
    """Register a new version of each policy whose content changed (all files valid, or nothing)."""
    loaded = load_all_or_fail(paths)
    if not loaded:
        _fail([f"error: no policy file in {', '.join(map(str, paths))}"])
    with _database(database_url) as engine, session_scope(engine) as session:
        outcomes = policy_registry.register_policies(session, [p for _, p in loaded], datetime.now(UTC))
    for (file, _), outcome in zip(loaded, outcomes, strict=True):
        if outcome.registered:
            typer.echo(
                f"{outcome.policy_id}: registered version {outcome.version} "
                f"(sha256 {outcome.sha256[:12]}) from {file}"
            )
        else:
            typer.echo(f"{outcome.policy_id}: unchanged (version {outcome.version})")
    changed = sum(o.registered for o in outcomes)
    noun = "policy" if len(outcomes) == 1 else "policies"
    typer.echo(f"{len(outcomes)} {noun}: {changed} registered, {len(outcomes) - changed} unchanged")


@policies_app.command("list")
def list_policies(
    as_json: bool = typer.Option(False, "--json", help="One JSON array instead of a table."),
    database_url: str | None = DATABASE_OPTION,
) -> None:
    """Registered policies: every version with its SHA-256 and its open cases."""
    with _database(database_url) as engine, session_scope(engine, write=False) as session:
        versions = policy_registry.list_versions(session)
    if as_json:
        rows = [
            {
                "policy_id": v.policy_id,
                "version": v.version,
                "sha256": v.sha256,
                "incident_type": v.incident_type,
                "title": v.title,
                "registered_at": v.registered_at.isoformat(),
                "open_cases": v.open_cases,
                "latest": v.latest,
            }
            for v in versions
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not versions:
        typer.echo("no policy registered yet: run `lifeline policies apply PATH...`")
        return
    width = max(len("POLICY"), *(len(v.policy_id) for v in versions))
    typer.echo(f"{'POLICY':<{width}}  VERSION  SHA256        REGISTERED AT              OPEN CASES")
    for v in versions:
        mark = "  (latest)" if v.latest else ""
        typer.echo(
            f"{v.policy_id:<{width}}  {v.version:>7}  {v.sha256[:12]}  "
            f"{v.registered_at.isoformat(timespec='seconds'):<25}  {v.open_cases:>10}{mark}"
        )
