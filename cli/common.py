"""What every command shares: failing with a clear message and its exit code, and the database.

The command line's counterpart of ``api/problems.py``: ``EXIT_CODES`` is the one table from domain
errors to exit codes, and ``fail`` the one way out. Exit codes: 0 done; 1 the command ran and found
something (``audit verify``, ``lint --strict``), or a deployment problem; 2 bad input or a database
the command refuses (unreachable, schema behind or ahead), nothing changed; 75 (EX_TEMPFAIL) the data
changed meanwhile, run it again.

``open_database`` is the one way a command reaches the database (``--database-url``, else
LIFELINE_DATABASE_URL): the schema checked (or migrated where the command says so), every driver or
schema error an exit 2 naming the database, the engine disposed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from casework.errors import (
    CaseworkError,
    DuplicateTimedEvent,
    IdempotencyRace,
    QueuesFileUnreadable,
    StaleVersion,
    StoredPolicyUnreadable,
    UnknownName,
)
from casework.settings import get_settings
from models.db import TransactionConflict, make_engine
from models.migrate import SchemaError, current_revision, ensure_schema_current, upgrade
from policies.diagnostics import PolicyError
from sla_engine.agent_actions import InvalidAction
from sla_engine.simulation import SimulationInputError
from sla_engine.transitions import ForbiddenTransition

#: Domain errors -> exit codes; the most specific class in an error's MRO wins.
EXIT_CODES: dict[type[Exception], int] = {
    CaseworkError: 2,
    InvalidAction: 2,
    ForbiddenTransition: 2,
    SimulationInputError: 2,
    PolicyError: 2,
    SchemaError: 2,
    StaleVersion: 75,
    DuplicateTimedEvent: 75,
    IdempotencyRace: 75,
    TransactionConflict: 75,
    StoredPolicyUnreadable: 1,
    UnknownName: 2,
    QueuesFileUnreadable: 1,
}

DATABASE_OPTION = typer.Option("--database-url", help="Database (default: LIFELINE_DATABASE_URL).")
#: The ``--database-url`` option of every command that opens the database.
DatabaseUrl = Annotated[str | None, DATABASE_OPTION]


def exit_code_of(error: Exception) -> int | None:
    """The exit code ``EXIT_CODES`` gives ``error`` (None: not a domain error)."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return None


def fail(message: str | Exception, code: int | None = None, *, prefix: str = "error: ") -> NoReturn:
    """Print ``message`` on stderr and exit: with ``code``, else the table's code for an exception
    message, else 2."""
    if code is None:
        code = exit_code_of(message) if isinstance(message, Exception) else None
    typer.echo(f"{prefix}{message}", err=True)
    raise typer.Exit(2 if code is None else code)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn the domain errors of ``EXIT_CODES`` raised inside into ``fail``; others rise."""
    try:
        yield
    except Exception as error:
        if exit_code_of(error) is None:
            raise
        fail(error)


def parse_instant(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 instant with an offset (``Z`` allowed); a clear error naming the option otherwise."""
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO 8601 instant (e.g. 2026-03-01T00:00:00Z)")
    if instant.tzinfo is None:
        fail(f"{option}: {value!r} has no UTC offset; add Z or +00:00")
    return instant.astimezone(UTC)


def database_url(option: str | None) -> str:
    return option or get_settings().database_url


@contextmanager
def open_database(option: str | None = None, *, migrate: str = "never") -> Iterator[Engine]:
    """An engine on the database of ``--database-url`` (``option``) or LIFELINE_DATABASE_URL, at the
    latest schema, disposed on leaving. ``migrate``: ``"never"`` (behind: exit 2 naming `lifeline db
    upgrade`), ``"new-sqlite"`` (a never-migrated SQLite file is migrated first: one machine, zero
    setup) or ``"sqlite"`` (any SQLite database is brought up to date, as ``serve`` does). Schema and
    driver errors, on opening or inside, exit 2 naming the database."""
    try:
        engine = make_engine(database_url(option))
    except SQLAlchemyError as exc:  # a URL SQLAlchemy cannot read
        fail(f"cannot open the database: {exc}")
    where = engine.url.render_as_string(hide_password=True)
    try:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite and (migrate == "sqlite" or migrate == "new-sqlite" and current_revision(engine) is None):
            upgrade(engine)
        ensure_schema_current(engine)
        yield engine
    except SchemaError as exc:
        fail(exc)
    except SQLAlchemyError as exc:
        fail(f"cannot open the database {where}: {getattr(exc, 'orig', None) or exc}")
    finally:
        engine.dispose()


def prepare_database(option: str | None) -> None:
    """Migrate a SQLite database to the latest schema; check any other one is current (exit 2 if
    not). What ``serve`` and ``demo`` do before they start."""
    with open_database(option, migrate="sqlite"):
        pass
