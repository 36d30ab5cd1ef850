"""`lifeline reports rebuild`: recompute the compliance roll-ups from the history's derived rows
(casework.history.rollups.rebuild), e.g. after restoring a backup or loading rows by hand. One
transaction: the report reads the old roll-ups or the new, never half of them. Idempotent."""

from __future__ import annotations

import time

import typer

from casework.history.rollups import rebuild as rebuild_rollups
from cli.apps import reports_app
from cli.common import DatabaseUrl, open_database
from models.db import session_scope


@reports_app.command("rebuild")
def rebuild(database_url: DatabaseUrl = None) -> None:
    """Recompute the compliance roll-ups from cases, clock outcomes and escalations (progress on stderr)."""
    started = time.monotonic()

    def progress(table: str, rows: int) -> None:
        typer.echo(f"read {rows:,} rows of {table}", err=True)

    with open_database(database_url) as engine, session_scope(engine) as session:
        written = rebuild_rollups(session.connection(), progress)
    rows = ", ".join(f"{n:,} rows of {table}" for table, n in written.items())
    typer.echo(f"Rebuilt the compliance roll-ups in {time.monotonic() - started:.1f} s: {rows}.")
