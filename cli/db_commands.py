"""`lifeline db upgrade`: bring the database named by LIFELINE_DATABASE_URL to the latest schema."""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from cli import common
from cli.apps import db_app
from cli.common import DatabaseUrl, fail
from models.db import make_engine
from models.migrate import current_revision, head_revision, upgrade


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseUrl = None,
) -> None:
    """Apply every pending schema migration (safe to run again: an up-to-date database is left alone)."""
    engine = make_engine(common.database_url(database_url))
    where = engine.url.render_as_string(hide_password=True)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    except SQLAlchemyError as exc:
        fail(f"cannot upgrade the database {where}: {getattr(exc, 'orig', None) or exc}")
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"{where}: already at the latest schema revision {after}")
    else:
        typer.echo(
            f"{where}: upgraded from {before or 'an empty database'} to schema revision {head_revision()}"
        )
