"""`lifeline notifications redeliver`: queue dead notifications again (see docs/worker.md).

A notification is dead after its last failed attempt, or at once when its channel has no webhook.
Once the receiver or the channels file is fixed, ``redeliver`` makes them pending again with the same
``notification_id`` (receivers drop one they already processed); the next worker sends them and
records the outcome in the case's history, after ``notification_redelivered``.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Annotated

import typer

from casework.history.outbox import redeliver as redeliver_notifications
from cli.apps import notifications_app
from cli.common import DatabaseUrl, domain_errors, open_database, parse_instant
from models.db import session_scope


@notifications_app.command("redeliver")
def redeliver(
    case: Annotated[str | None, typer.Option("--case", help="Only this case's notifications.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only notifications queued at or after (ISO 8601).")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Queue every dead notification again (or a case's, or those since an instant)."""
    after = parse_instant(since, "--since")
    actor = f"operator:{getpass.getuser()}"
    with open_database(database_url) as engine, domain_errors(), session_scope(engine) as session:
        ids = redeliver_notifications(session, datetime.now(UTC), actor, case_id=case, since=after)
    if not ids:
        typer.echo("No dead notification to redeliver.")
        return
    shown = ", ".join(str(i) for i in ids[:20]) + (", ..." if len(ids) > 20 else "")
    typer.echo(f"Queued {len(ids)} notification(s) again: {shown}. A running worker sends them now.")
