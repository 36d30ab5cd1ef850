"""`lifeline policies apply PATH...` and `lifeline policies list`: the policy registry.

Apply is all or nothing: every file is loaded and checked first; if any has an error, the errors are
printed (one ``file: /pointer: message`` line each, as `policies validate` prints them), nothing is
registered and the exit code is 2. Otherwise each policy whose canonical content changed gets a new
version, in one transaction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from casework.registry import policy_registry
from casework.registry.policy_lifecycle import plan_apply
from cli.apps import policies_app
from cli.common import DatabaseUrl, fail, open_database
from models.db import session_scope
from policies.checking import check_and_load
from policies.model import Policy

CHANNELS_OPTION = typer.Option(
    None,
    "--channels",
    envvar="LIFELINE_CHANNELS_FILE",
    help="Channels file (JSON); when given, every notify action must name one of its channels.",
    metavar="FILE",
)


def load_all_or_fail(paths: list[Path], channels_file: Path | None) -> list[tuple[str, Policy]]:
    """Every policy of ``paths`` (files or folders) with its file, each read and checked once. On any
    error, print the errors as `policies validate` does (same checks, same lines, on stdout) and exit 2."""
    checked = check_and_load(paths, channels_file)
    if checked.errors:
        for diagnostic in checked.errors:
            typer.echo(diagnostic.as_line())
        fail(f"{len(checked.errors)} error(s): nothing registered", prefix="")
    return checked.policies


@policies_app.command("apply")
def apply(
    paths: Annotated[list[Path], typer.Argument(help="Policy files or folders of policies.")],
    channels: Path | None = CHANNELS_OPTION,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print each changed policy's JSON-pointer diff and its open cases; register nothing.",
        ),
    ] = False,
    output: Annotated[str, typer.Option("--format", help="With --dry-run: text or json.")] = "text",
    database_url: DatabaseUrl = None,
) -> None:
    """Register a new version of each policy whose content changed (all files valid, or nothing)."""
    loaded = load_all_or_fail(paths, channels)
    if not loaded:
        fail(f"no policy file in {', '.join(map(str, paths))}")
    if output not in ("text", "json"):
        fail(f"--format: expected text or json, got {output!r}")
    if dry_run:
        _dry_run(loaded, output, database_url)
        return
    with open_database(database_url, migrate="new-sqlite") as engine, session_scope(engine) as session:
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
    database_url: DatabaseUrl = None,
) -> None:
    """Registered policies: every version with its SHA-256 and its open cases."""
    with (
        open_database(database_url, migrate="new-sqlite") as engine,
        session_scope(engine, write=False) as session,
    ):
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
                "retired_at": None if v.retired_at is None else v.retired_at.isoformat(),
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
        mark = ("  (latest)" if v.latest else "") + ("  (retired)" if v.retired_at and v.latest else "")
        typer.echo(
            f"{v.policy_id:<{width}}  {v.version:>7}  {v.sha256[:12]}  "
            f"{v.registered_at.isoformat(timespec='seconds'):<25}  {v.open_cases:>10}{mark}"
        )


def _dry_run(loaded: list[tuple[str, Policy]], output: str, database_url: str | None) -> None:
    """What apply would register, against the registered latest versions; writes nothing."""
    with (
        open_database(database_url, migrate="new-sqlite") as engine,
        session_scope(engine, write=False) as session,
    ):
        plans = plan_apply(session, [p for _, p in loaded])
    if output == "json":
        rows = [{"file": str(file), **plan.to_dict()} for (file, _), plan in zip(loaded, plans, strict=True)]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for (file, _), plan in zip(loaded, plans, strict=True):
        if plan.version is None:
            typer.echo(f"{plan.policy_id}: new policy, would register version 1 from {file}")
        elif not plan.changed:
            typer.echo(f"{plan.policy_id}: unchanged (version {plan.version})")
        else:
            typer.echo(
                f"{plan.policy_id}: would register version {plan.version + 1} from {file}; "
                f"{plan.open_cases} open cases pin version {plan.version}"
            )
            for change in plan.changes:
                typer.echo("  " + _change_line(change.to_dict()))
    changed = sum(plan.changed for plan in plans)
    typer.echo(f"dry run: {changed} of {len(plans)} would change; nothing registered", err=True)


def _change_line(change: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    if change["op"] == "added":
        return f"+ {change['pointer']}: {show(change['new'])}"
    if change["op"] == "removed":
        return f"- {change['pointer']}: {show(change['old'])}"
    return f"~ {change['pointer']}: {show(change['old'])} -> {show(change['new'])}"
