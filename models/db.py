"""The database engine and the transaction scope.

SQLite (the default, one machine): WAL journal so readers never block the writer, foreign keys on,
a 30 s busy timeout, and temporary storage (statement journals, sorts) in memory. Python's
sqlite3 module would issue BEGIN only before the first write, so a transaction that reads a case
then writes it could act on a stale read; here every transaction starts with an explicit BEGIN, and
a *write* scope starts with BEGIN IMMEDIATE, which takes SQLite's single write lock up front: two
writers queue (up to the busy timeout) instead of failing.

PostgreSQL (scale-out) goes through psycopg 3; ``postgresql://`` URLs are read as
``postgresql+psycopg://``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from models import json_codec

BUSY_TIMEOUT_SECONDS = 30
_WRITE_OPTION = "lifeline_write"
_NO_BEGIN_OPTION = "lifeline_no_begin"
#: The JSON columns' codec (models.json_codec), the same on both backends.
_JSON_CODEC: dict[str, Any] = {"json_serializer": json_codec.dumps, "json_deserializer": json_codec.loads}
P = ParamSpec("P")
T = TypeVar("T")


class TransactionConflict(Exception):
    """The database aborted a transaction because of a concurrent one; nothing of it was written,
    and it may succeed if run again. Raised by ``session_scope``; the API answers 409, the command
    line exits 75, the console says to retry."""

    #: PostgreSQL's SQLSTATEs for it, and what each says.
    SQLSTATES = {
        "40P01": "a deadlock with a concurrent transaction",
        "40001": "a serialization failure against a concurrent transaction",
        "55P03": "a lock held by a concurrent transaction",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(f"the database refused the change because of {reason}; nothing was written, retry")

    @classmethod
    def of(cls, error: DBAPIError) -> TransactionConflict | None:
        """The conflict ``error`` is, if it is one."""
        reason = cls.SQLSTATES.get(getattr(error.orig, "sqlstate", None) or "")
        return None if reason is None else cls(reason)


def normalize_url(url: str | URL) -> URL:
    """``postgres://`` and ``postgresql://`` become ``postgresql+psycopg://`` (psycopg 3)."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


async def short_read(engine: Engine, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an async route's blocking ``work`` (a read of a few rows, and what it renders of them):
    inline on SQLite, in the thread pool otherwise. Shared by the API's and the console's reads.

    On SQLite (WAL: a reader never waits for the writer) an indexed read of a local file takes tens
    of microseconds, less than the hop to the thread pool and back (a future, two thread wake-ups,
    the GIL changing hands), which a sync route pays on every request; on PostgreSQL a query is a
    network round trip, which must not stall the event loop."""
    if is_sqlite(engine):
        return work(*args, **kwargs)
    return await anyio.to_thread.run_sync(functools.partial(work, *args, **kwargs))


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for ``url`` configured as described in this module's docstring."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            echo=echo,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            **_JSON_CODEC,
        )
        _configure_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
        return engine
    return create_engine(parsed, echo=echo, pool_pre_ping=True, **_JSON_CODEC)


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: SQLAlchemy's "begin" hook below emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            # Statement journals (and temporary tables and sorts) in memory, not in temporary files:
            # a multi-row statement inside a transaction, and every page a savepoint changes, are
            # journaled so they can be undone alone, and past 64 KiB SQLite spills that journal to a
            # file. The sweep's batches (a joined UPDATE of 200 case rows, 32-row INSERTs, within a
            # savepoint) spilled a few MB each: 0.2 s of the 10,000-case sweep's 0.9 s in SQLite's
            # statements (bench/README.md, "2026-12-04 (Friday night)").
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(_NO_BEGIN_OPTION, False):
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE_OPTION, False) else "BEGIN")


def write_bind(engine: Engine) -> Engine:
    """``engine`` whose transactions take SQLite's write lock at BEGIN (no effect on PostgreSQL)."""
    return engine.execution_options(**{_WRITE_OPTION: True})


@contextmanager
def single_read(engine: Engine) -> Iterator[Connection]:
    """A connection for one read statement, outside any explicit transaction: on SQLite no BEGIN and
    COMMIT (the statement is its own read transaction, a consistent snapshot), on PostgreSQL
    autocommit (no BEGIN and COMMIT round trips). Two statements through it may see different
    snapshots, so use it only where that cannot matter (one query; or a second one that reads
    immutable rows, e.g. a policy version); never write through it."""
    if is_sqlite(engine):
        connection = engine.connect().execution_options(**{_NO_BEGIN_OPTION: True})
    else:
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with connection:
        yield connection


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One transaction: commit when the block ends normally, roll back on any exception.

    ``write=True`` (the default) is for any block that may write: on SQLite it starts with BEGIN
    IMMEDIATE (see module docstring). Pass ``write=False`` for read-only blocks so they never wait
    for a writer. Objects stay readable after the commit (``expire_on_commit=False``).

    A transaction PostgreSQL aborts because of a concurrent one (a deadlock, a serialization
    failure, a lock it would not wait for) is raised as ``TransactionConflict``: nothing of it was
    written, and running it again is the remedy (the error tables say so to the user).
    """
    bind = write_bind(engine) if write else engine
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except DBAPIError as error:
            session.rollback()
            conflict = TransactionConflict.of(error)
            if conflict is None:
                raise
            raise conflict from error
        except BaseException:
            session.rollback()
            raise
