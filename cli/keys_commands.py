"""`lifeline keys create|revoke|list`: API keys for agents, admins and auditors.

A key is printed once, at creation; only its SHA-256 is stored, so a lost key is revoked and
replaced, never recovered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from casework import api_keys
from casework.settings import get_settings
from cli.apps import keys_app
from cli.common import DatabaseUrl, domain_errors, fail, open_database
from models.db import session_scope
from models.kinds import Role


class RoleChoice(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    AUDITOR = "auditor"


@keys_app.command("create")
def create(
    role: Annotated[
        RoleChoice, typer.Option("--role", help="admin (policies, keys), agent (cases) or auditor (read).")
    ],
    name: Annotated[str, typer.Option("--name", help="Who holds it; events it causes show '<role>:<name>'.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    with open_database(database_url) as engine, domain_errors(), session_scope(engine) as session:
        created = api_keys.create_key(session, name, Role(role.value), datetime.now(UTC))
    typer.echo(f"Created {created.role} key {created.id} named {created.name!r}. It is shown only once:")
    typer.echo(created.secret)
    typer.echo(f"Use it as: Authorization: Bearer {created.secret}")


@keys_app.command("revoke")
def revoke(
    key: str = typer.Argument(..., help="The key's id or name."),
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key at once: requests with it get 401 from now on."""
    with open_database(database_url) as engine, domain_errors(), session_scope(engine) as session:
        row = api_keys.revoke_key(session, key, datetime.now(UTC))
        revoked = (row.id, row.name, row.role)
    typer.echo(f"Revoked {revoked[2]} key {revoked[0]} named {revoked[1]!r}.")


@keys_app.command("list")
def list_(database_url: DatabaseUrl = None) -> None:
    """List keys (id, name, role, prefix, created, revoked); secrets are never shown."""
    with open_database(database_url) as engine, session_scope(engine, write=False) as session:
        rows = api_keys.list_keys(session)
    for row in rows:
        revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        typer.echo(
            f"{row.id}\t{row.name}\t{row.role}\t{row.prefix}…\t{row.created_at:%Y-%m-%d %H:%M}\t{revoked}"
        )


@keys_app.command("signing-init")
def signing_init(
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Where to write the key (default: LIFELINE_SIGNING_KEY_FILE)."),
    ] = None,
) -> None:
    """Create the Ed25519 key the worker signs chain digests with (mode 0600; never overwritten).
    Point LIFELINE_SIGNING_KEY_FILE at it for every worker; auditors note the key id printed."""
    from casework.audit.digests import create_signing_key

    path = file or get_settings().signing_key_file
    if path is None:
        fail("no key file: pass --file or set LIFELINE_SIGNING_KEY_FILE")
    with domain_errors():
        signer = create_signing_key(path)
    typer.echo(f"Created the signing key {path} (key id {signer}).")
    typer.echo(
        "Set LIFELINE_SIGNING_KEY_FILE to it for every worker; keep a copy of the key id with your digests."
    )
