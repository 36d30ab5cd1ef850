"""`lifeline keys create|revoke|list`: API keys for agents, admins and auditors.

A key is printed once, at creation; only its SHA-256 is stored, so a lost key is revoked and
replaced, never recovered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from casework import api_keys
from casework.errors import ApiKeyNameTaken, ApiKeyNotFound, InvalidKeyName
from casework.settings import get_settings
from cli.apps import keys_app
from models.db import make_engine, session_scope
from models.kinds import Role
from models.schema import SchemaError, ensure_schema_current


class RoleChoice(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    AUDITOR = "auditor"


DATABASE_OPTION = typer.Option(None, "--database-url", help="Database (default: LIFELINE_DATABASE_URL).")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def create_api_key(database_url: str, name: str, role: Role) -> api_keys.CreatedKey:
    """Create a key on ``database_url`` (schema must be current); raises the casework errors."""
    engine = make_engine(database_url)
    try:
        ensure_schema_current(engine)
        with session_scope(engine) as session:
            return api_keys.create_key(session, name, role, datetime.now(UTC))
    finally:
        engine.dispose()


@keys_app.command("create")
def create(
    role: Annotated[
        RoleChoice, typer.Option("--role", help="admin (policies, keys), agent (cases) or auditor (read).")
    ],
    name: Annotated[str, typer.Option("--name", help="Who holds it; events it causes show '<role>:<name>'.")],
    database_url: str = DATABASE_OPTION,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    url = database_url or get_settings().database_url
    try:
        created = create_api_key(url, name, Role(role.value))
    except (ApiKeyNameTaken, InvalidKeyName, SchemaError) as exc:
        raise _fail(str(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(f"cannot reach the database: {getattr(exc, 'orig', None) or exc}") from None
    typer.echo(f"Created {created.role} key {created.id} named {created.name!r}. It is shown only once:")
    typer.echo(created.secret)
    typer.echo(f"Use it as: Authorization: Bearer {created.secret}")


@keys_app.command("revoke")
def revoke(
    key: str = typer.Argument(..., help="The key's id or name."),
    database_url: str = DATABASE_OPTION,
) -> None:
    """Revoke a key at once: requests with it get 401 from now on."""
    engine = make_engine(database_url or get_settings().database_url)
    try:
        ensure_schema_current(engine)
        with session_scope(engine) as session:
            row = api_keys.revoke_key(session, key, datetime.now(UTC))
            revoked = (row.id, row.name, row.role)
    except (ApiKeyNotFound, SchemaError) as exc:
        raise _fail(str(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(f"cannot reach the database: {getattr(exc, 'orig', None) or exc}") from None
    finally:
        engine.dispose()
    typer.echo(f"Revoked {revoked[2]} key {revoked[0]} named {revoked[1]!r}.")


@keys_app.command("list")
def list_(database_url: str = DATABASE_OPTION) -> None:
    """List keys (id, name, role, prefix, created, revoked); secrets are never shown."""
    engine = make_engine(database_url or get_settings().database_url)
    try:
        ensure_schema_current(engine)
        with session_scope(engine, write=False) as session:
            rows = api_keys.list_keys(session)
    except SchemaError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    for row in rows:
        revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        typer.echo(
            f"{row.id}\t{row.name}\t{row.role}\t{row.prefix}…\t{row.created_at:%Y-%m-%d %H:%M}\t{revoked}"
        )
