"""`lifeline cases bulk`: one agent action on many cases, straight on the database, with a progress
bar on stderr; the same service as POST /v1/cases/bulk-actions (casework.bulk), so each case is its
own transaction with its own version check.

Exit code 0 when every case is ``done``, 1 when any is not (the summary says which), 2 on bad input.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from casework.bulk.runner import CaseResult, Target, run_bulk, select_targets, summary
from casework.cases.assignees import listing_assignee
from casework.errors import InvalidAction, TooManyCases, UnknownName
from casework.queries.case_queries import CaseFilters
from casework.search.conditions import search_terms
from cli.apps import cases_app
from cli.common import DatabaseUrl, fail, open_database, parse_instant
from cli.progress import OnResult, with_progress
from sla_engine.kinds import ActionName, Status

TEXT_FILTERS = ("incident_type", "queue", "priority", "assignee", "creator", "handle")
FILTERS = (*TEXT_FILTERS, "status", "breached", "due_before", "q")


def _pair(text: str, option: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        fail(f"{option}: expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def parse_filters(items: Sequence[str]) -> CaseFilters:
    """``--filter NAME=VALUE`` options as listing filters (``status`` may repeat or hold a comma list)."""
    values: dict[str, Any] = {}
    statuses: list[Status] = []
    for item in items:
        name, value = _pair(item, "--filter")
        if name == "status":
            try:
                statuses.extend(Status(s.strip()) for s in value.split(",") if s.strip())
            except ValueError:
                fail(f"--filter status: {value!r}; statuses: {', '.join(Status)}")
        elif name == "breached":
            if value not in ("true", "false"):
                fail("--filter breached: true or false")
            values["breached"] = value == "true"
        elif name == "due_before":
            values["due_before"] = parse_instant(value, "--filter due_before")
        elif name == "q":
            try:
                values["q"] = search_terms(value)
            except InvalidAction as err:
                fail(f"--filter q: {err}")
        elif name in TEXT_FILTERS:
            values[name] = value
        else:
            fail(f"--filter: unknown filter {name!r}; filters: {', '.join(FILTERS)}")
    return CaseFilters(status=tuple(statuses), **values)


def parse_args(items: Sequence[str]) -> dict[str, Any]:
    """``--arg NAME=VALUE``: VALUE as JSON when it is JSON (``true``, ``3``, ``null``), else as text."""
    args: dict[str, Any] = {}
    for item in items:
        name, value = _pair(item, "--arg")
        try:
            args[name] = json.loads(value)
        except ValueError:
            args[name] = value
    return args


def parse_cases(items: Sequence[str]) -> list[Target]:
    targets = []
    for item in items:
        case_id, sep, version = item.partition(":")
        if not sep or not version.isdigit() or not case_id:
            fail(f"--case: expected ID:VERSION (the version you saw), got {item!r}")
        targets.append(Target(case_id, int(version)))
    return targets


@cases_app.command("bulk")
def bulk_command(
    action: Annotated[str, typer.Argument(help="acknowledge, assign, note, escalate, resolve, ...")],
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="NAME=VALUE, as GET /v1/cases filters (status, queue, creator, q...)."),
    ] = None,
    cases: Annotated[list[str] | None, typer.Option("--case", help="ID:VERSION; repeat for several.")] = None,
    args: Annotated[
        list[str] | None, typer.Option("--arg", help="NAME=VALUE argument of the action.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who acts (default agent:<login>).")] = None,
    output_json: Annotated[bool, typer.Option("--json", help="Print every case's result as JSON.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Apply ACTION to the cases the --filter options select (all of them must hold) or to the
    --case ID:VERSION list, each case in its own transaction, and report per case: done, stale,
    forbidden, not_found or invalid. Example: lifeline cases bulk acknowledge --filter queue=creator-support
    --filter status=open."""
    if action not in set(ActionName):
        fail(f"unknown action {action!r}; actions: {', '.join(ActionName)}")
    if bool(filters) == bool(cases):
        fail("give either --filter options or --case options")
    who = actor or f"agent:{getpass.getuser()}"
    selection = parse_filters(filters or []) if filters else None
    if selection is not None:
        selection = replace(selection, assignee=listing_assignee(selection.assignee, who))
    targets = parse_cases(cases or [])
    arguments = parse_args(args or [])
    with open_database(database_url) as engine:
        if selection is not None:
            with engine.connect() as connection, connection.begin():
                try:
                    targets = select_targets(connection, selection)
                except TooManyCases as err:
                    fail(str(err))
        try:
            results = _run(engine, targets, action, arguments, who)
        except UnknownName as err:  # refused before any case (casework.bulk.runner.check_action)
            fail(err)
    answer = summary(action, results)
    if output_json:
        typer.echo(json.dumps(answer, indent=2))
    counts = ", ".join(f"{n} {name}" for name, n in answer["counts"].items() if n)
    typer.echo(f"{action} on {answer['total']} cases: {counts or 'nothing selected'}", err=output_json)
    raise typer.Exit(0 if answer["counts"]["done"] == answer["total"] else 1)


def _run(
    engine: Any, targets: Sequence[Target], action: str, args: dict[str, Any], actor: str
) -> list[CaseResult]:
    def run(on_result: OnResult) -> list[CaseResult]:
        return run_bulk(engine, targets, action, args, actor, lambda: datetime.now(UTC), on_result)

    return with_progress(action, len(targets), run)
