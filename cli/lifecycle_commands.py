"""`lifeline policies migrate` and `lifeline policies retire`: a policy's lifecycle beyond its
versions, straight on the database, through the same services as POST /v1/policies/{id}/migrations
and POST /v1/policies/{id}/retire.

``migrate`` exits 0 when every selected case is ``migrated`` or ``unchanged``, 1 when any is not
(stale, forbidden, invalid, not_found: the table says which), 2 on bad input or an unknown policy or
version. ``--dry-run`` prints the same table (or JSON) and writes nothing.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from casework.bulk.runner import CaseResult, Target
from casework.cases.assignees import listing_assignee
from casework.migration import policy_migration
from casework.migration.policy_migration import MigrationRequest
from casework.queries.case_queries import CaseFilters
from casework.registry.policy_lifecycle import retire_policy
from cli.apps import policies_app
from cli.bulk_command import parse_filters
from cli.common import DatabaseUrl, domain_errors, fail, open_database
from cli.progress import OnResult, with_progress
from models.db import session_scope
from sla_engine.migration import MigrationMode


@policies_app.command("migrate")
def migrate_command(
    policy_id: Annotated[str, typer.Argument(help="The policy whose open cases move.", metavar="POLICY")],
    to: Annotated[
        str, typer.Option("--to", help="The version to move to (3, or POLICY:3).", metavar="VERSION")
    ],
    mode: Annotated[
        MigrationMode, typer.Option("--mode", help="keep (stay pinned), rebase or recompute.")
    ] = MigrationMode.KEEP,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            help="NAME=VALUE, as GET /v1/cases filters (queue, status, priority...).",
            metavar="FILTER",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List each case's deadlines before and after; write nothing.")
    ] = False,
    output: Annotated[
        str, typer.Option("--format", help="table (for people) or json (for scripts).")
    ] = "table",
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who migrates (default admin:<login>).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Move the open cases of POLICY (those --where selects, all must hold) to version --to:
    rebase keeps each clock's working time and applies the new targets; recompute replays each
    case's history under the new version; keep leaves them pinned. Each case is its own
    transaction and records one policy_migrated event. Example: lifeline policies migrate
    account-compromised --to 3 --mode rebase --where queue=creator-support --dry-run."""
    if output not in ("table", "json"):
        fail(f"--format: expected table or json, got {output!r}")
    who = actor or f"admin:{getpass.getuser()}"
    filters = parse_filters(where or []) if where else CaseFilters()
    filters = replace(filters, assignee=listing_assignee(filters.assignee, who))
    with open_database(database_url) as engine, domain_errors():
        version = policy_migration.parse_target(policy_id, to)
        request = MigrationRequest(policy_id, version, mode, who, dry_run)
        with session_scope(engine, write=False) as session:
            policy_migration.target_version(session, policy_id, version)
        with engine.connect() as connection, connection.begin():
            targets = policy_migration.select_cases(connection, policy_id, filters)
        answer = _run(engine, request, targets)
    if output == "json":
        typer.echo(json.dumps(answer, indent=2))
    else:
        typer.echo(render_table(answer["results"]))
    counts = ", ".join(f"{n} {name}" for name, n in answer["counts"].items() if n)
    verb = "would migrate" if dry_run else "migrated"
    typer.echo(
        f"{policy_id} to version {version} ({mode}): {answer['total']} open cases, "
        f"{counts or 'nothing selected'}" + (f" ({verb} nothing yet: dry run)" if dry_run else ""),
        err=True,
    )
    settled = answer["counts"]["migrated"] + answer["counts"]["unchanged"]
    raise typer.Exit(0 if settled == answer["total"] else 1)


def _run(engine: Engine, request: MigrationRequest, targets: Sequence[Target]) -> dict[str, Any]:
    answer: dict[str, Any] = {}

    def run(on_result: OnResult) -> list[CaseResult]:
        answer.update(
            policy_migration.run_migration(engine, request, targets, lambda: datetime.now(UTC), on_result)
        )
        return []

    with_progress(f"migrate to v{request.to}", len(targets), run)
    return answer


def render_table(results: Sequence[dict[str, Any]]) -> str:
    """One line per deadline of each case: the case, its result, which deadline, before -> after."""
    lines = [f"{'CASE':<28}  {'RESULT':<9}  {'VERSION':<7}  {'DEADLINE':<24}  {'BEFORE':<20}  AFTER"]
    for result in results:
        head = f"{result['case_id']:<28}  {result['result']:<9}  "
        if "before" not in result:
            lines.append(head + f"{'':<7}  {result.get('detail') or ''}")
            continue
        versions = f"{result['from']}->{result['to']}"
        for name, before, after in _deadlines(result["before"], result["after"]):
            lines.append(head + f"{versions:<7}  {name:<24}  {_short(before):<20}  {_short(after)}")
    return "\n".join(lines)


def _deadlines(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    clocks = [*before["clocks"], *(c for c in after["clocks"] if c not in before["clocks"])]
    rows = [(f"clock {c}", before["clocks"].get(c), after["clocks"].get(c)) for c in clocks]
    rows.append((f"stage {after['stage']['id']}", before["stage"]["due_at"], after["stage"]["due_at"]))
    rows.append(("next", before["next_deadline_at"], after["next_deadline_at"]))
    return rows


def _short(value: str | None) -> str:
    return "-" if value is None else value[:19].replace("T", " ")


@policies_app.command("retire")
def retire_command(
    policy_id: Annotated[str, typer.Argument(help="The policy to retire.", metavar="ID")],
    database_url: DatabaseUrl = None,
) -> None:
    """Stop new cases from opening under policy ID (POST /v1/cases answers 409 naming it); its open
    cases keep their version and keep escalating."""
    with open_database(database_url) as engine, domain_errors(), session_scope(engine) as session:
        done = retire_policy(session, policy_id, datetime.now(UTC))
    when = done.retired_at.isoformat(timespec="seconds")
    state = "retired" if done.changed else "already retired"
    typer.echo(f"{policy_id}: {state} at {when}; {done.open_cases} open cases keep it")
