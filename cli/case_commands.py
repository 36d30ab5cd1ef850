"""`lifeline cases show ID`: a case as GET /v1/cases/{id} shows it, read from the database directly
(for an operator on the server, or a script without an API key)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlmodel import Session

from casework.queries import case_read
from casework.queries.case_view import CASE_VIEW, case_view
from cli.apps import cases_app
from cli.common import DatabaseUrl, domain_errors, open_database


@cases_app.command("show")
def show(
    case_id: Annotated[str, typer.Argument(help="The case id, e.g. cs_01J...", metavar="ID")],
    database_url: DatabaseUrl = None,
) -> None:
    """Print the case now as JSON: every clock with its deadline, remaining working time, paused and
    breached; the stage and when it escalates; the priority and why. Exit 2 for an unknown id."""
    with open_database(database_url) as engine, domain_errors(), engine.connect() as connection:
        read = case_read.read_case(connection, case_id)
        with Session(connection) as session:
            view = case_view(session, read.case, datetime.now(UTC), read.breached, read.policy_sha256)
    typer.echo(CASE_VIEW.dump_json(view, indent=2).decode())
