"""`lifeline db upgrade`: bring the database named by LIFELINE_DATABASE_URL to the latest schema."""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from casework.settings import get_settings
from cli.apps import db_app
from models.db import make_engine
from models.schema import current_revision, head_revision, upgrade


@db_app.command("upgrade")
def db_upgrade(
    database_url: str = typer.Option(
        None, "--database-url", help="Database to upgrade (default: LIFELINE_DATABASE_URL)."
    ),
) -> None:
    """Apply every pending schema migration (safe to run again: an up-to-date database is left alone)."""
    url = database_url or get_settings().database_url
    engine = make_engine(url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    except SQLAlchemyError as exc:
        typer.echo(
            f"error: cannot upgrade the database {where}: {getattr(exc, 'orig', None) or exc}",
            err=True,
        )
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"{where}: already at the latest schema revision {after}")
    else:
        typer.echo(
            f"{where}: upgraded from {before or 'an empty database'} to schema revision {head_revision()}"
        )
