"""Schema versions: upgrade a database with Alembic, and refuse to run on one that is behind.

There is no alembic.ini: the configuration is built here, with the script location inside the
installed package, so `lifeline db upgrade` works from any directory.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from models.db import make_engine, write_bind

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Search and creator indexes the migrations create per database (SQLite FTS5 table and its
#: shadow tables, expression indexes): not modelled, so schema comparison leaves them out.
UNMODELLED_PREFIX = "case_search"
UNMODELLED_INDEXES = frozenset(
    {"ix_cases_creator_id", "ix_cases_creator_handle", "ix_cases_search", "ix_case_events_search"}
)


class SchemaError(RuntimeError):
    """The database's schema does not match this version of Lifeline."""


class SchemaBehind(SchemaError):
    """The database needs `lifeline db upgrade` before the API or the worker may use it."""


class SchemaAhead(SchemaError):
    """The database was migrated by a newer Lifeline than this one."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "models/migrations/versions holds no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` in one transaction (DDL is transactional on both)."""
    config = alembic_config()
    with write_bind(engine).begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def migrate(url: str | URL) -> None:
    """Upgrade the database at ``url`` to the latest schema (``lifeline serve`` on first start)."""
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def ensure_schema_current(engine: Engine) -> None:
    """Raise SchemaBehind (naming the command to run) unless the database is at the latest revision."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    where = engine.url.render_as_string(hide_password=True)
    if current is not None and current not in known:
        raise SchemaAhead(
            f"the database {where} is at schema revision {current}, which this Lifeline does not know "
            f"(latest known: {head}); it was migrated by a newer Lifeline: upgrade Lifeline"
        )
    at = "empty (never migrated)" if current is None else f"at schema revision {current}"
    raise SchemaBehind(
        f"the database {where} is {at}, behind the latest revision {head}: "
        f"run `lifeline db upgrade` (with the same LIFELINE_DATABASE_URL) and start again"
    )


def open_database(url: str | URL, *, migrate_new_sqlite: bool = True) -> Engine:
    """An engine on a database at the latest schema: a never-migrated SQLite database is migrated
    first (one machine, zero setup); anything else behind raises SchemaBehind naming the command."""
    engine = make_engine(url)
    try:
        if migrate_new_sqlite and engine.dialect.name == "sqlite" and current_revision(engine) is None:
            upgrade(engine)
        ensure_schema_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
