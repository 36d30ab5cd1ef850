"""`lifeline policies simulate`: what a policy would do to a case, without a database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer

from casework.queries.simulation_view import SIMULATION_VIEW, TimelineEntry, simulation_view
from cli.apps import policies_app
from cli.common import fail
from cli.policy_files import load_one_policy
from sla_engine.business_time import BusinessCalendar
from sla_engine.simulation import (
    SimulationInputError,
    opening_status,
    parse_actions,
    parse_case,
    parse_instant,
    simulate,
)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        fail(f"{path}: cannot read: {err.strerror or err}", prefix="")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        fail(f"{path}: line {err.lineno}, column {err.colno}: invalid JSON: {err.msg}", prefix="")


def _table(entries: list[TimelineEntry], timezone: str) -> str:
    zone = ZoneInfo(timezone)
    rows = [("AT (UTC)", f"LOCAL ({timezone})", "KIND", "CLOCK/STAGE", "DETAIL")]
    for e in entries:
        at = e["at"]
        rows.append(
            (
                at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S"),
                at.astimezone(zone).strftime("%a %Y-%m-%d %H:%M"),
                e["kind"],
                e.get("clock") or e.get("stage") or "",
                e["detail"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4] for r in rows
    )


@policies_app.command("simulate")
def simulate_command(
    policy_path: Path = typer.Argument(..., help="The policy file to simulate.", metavar="POLICY"),
    case: Path = typer.Option(..., "--case", help='CASE.json: {"opened_at": ISO, "attributes": {...}}.'),
    actions: Path | None = typer.Option(
        None, "--actions", help='ACTIONS.json: [{"at": ISO, "action": "acknowledge", ...arguments}].'
    ),
    until: str | None = typer.Option(
        None,
        "--until",
        help="ISO 8601 end of the simulation (default: when no timer is pending, at most 90 days).",
    ),
    output: str = typer.Option("json", "--format", help="json (for scripts) or table (for people)."),
) -> None:
    """Show the timeline a policy gives a case: deadlines, warnings, breaches, escalations, notifications.

    Nothing is stored. Exit 0 on success, 2 on a bad policy or bad input file (with the file and the
    JSON pointer of the problem).
    """
    if output not in ("json", "table"):
        fail(f"--format: expected json or table, got {output!r}", prefix="")
    policy, calendar = load_one_policy(policy_path)
    try:
        raw_case = _read_json(case)
        opened_at, attributes = parse_case(raw_case)
    except SimulationInputError as err:
        fail(f"{case}: {err.pointer or '/'}: {err.message}", prefix="")
    try:
        agent_actions = parse_actions(_read_json(actions)) if actions else []
    except SimulationInputError as err:
        fail(f"{actions}: {err.pointer or '/'}: {err.message}", prefix="")
    try:
        end = parse_instant(until, "--until") if until else None
    except SimulationInputError as err:
        fail(f"--until: {err.message}", prefix="")
    business = BusinessCalendar(calendar)
    try:
        status = opening_status(raw_case)
        run = simulate(policy, business, opened_at, attributes, agent_actions, end, status)
    except SimulationInputError as err:
        fail(f"{actions}: {err.pointer}: {err.message}", prefix="")
    view = simulation_view(policy, business, run, version=None)
    if output == "json":
        # The very bytes POST /v1/policies/{id}/simulate answers for the same policy and input.
        typer.echo(SIMULATION_VIEW.dump_json(view, indent=2).decode("utf-8"))
    else:
        typer.echo(_table(view["timeline"], calendar.timezone))
