"""Shared fixtures: a real, migrated database on SQLite and (when configured) on PostgreSQL.

``db_url`` is parametrized: ``sqlite`` is a fresh file under the test's tmp_path; ``postgres`` runs
when LIFELINE_TEST_POSTGRES_URL names a server (``.ci/run`` sets it) and uses one database created
for the test session (``lifeline_test_<random>``, dropped at the end), migrated once and emptied
before each test. Every test that takes ``db_url``, ``engine`` or ``session`` runs on both.
``new_database_url`` makes extra empty, unmigrated databases (for migration tests).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from models.db import make_engine, normalize_url
from models.migrate import migrate

# Prefect reads its settings once, at first import, and any test module may import it first (the API
# embeds the worker): keep its state in a throw-away home and its analytics off, for every test.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="lifeline-prefect-home-"))
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

# Property tests. `ci` (the default: CI, `make test`, `make test-fast`) is derandomized: the same
# examples on every run and every machine, so a red run is reproducible and a green one means the
# same thing each time. `HYPOTHESIS_PROFILE=long make test` digs deeper with fresh random examples;
# keep what it finds as an @example on the test (see tests/README.md).
settings.register_profile("ci", deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile(
    "long",
    max_examples=3000,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

POSTGRES_ENV = "LIFELINE_TEST_POSTGRES_URL"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers that follow what a test really needs, however its parameters were chosen: every
    test on the PostgreSQL backend is ``postgres`` (also when a test picks its backend with
    ``parametrize("backend", [...], indirect=True)``, which drops BACKENDS' marks), and every test
    that starts the Prefect test server is ``prefect``. `make test-fast` deselects by these."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgres":
            item.add_marker(pytest.mark.postgres)
        if "prefect_harness" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.prefect)


def _server_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: PostgreSQL leg skipped")
    return url


class PostgresServer:
    """Creates throw-away databases on the test server and drops them all at the end."""

    def __init__(self, url: str) -> None:
        self.admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create_database(self) -> str:
        name = f"lifeline_test_{secrets.token_hex(6)}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        self.created.append(name)
        return normalize_url(self.admin.url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer(_server_url())
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def postgres_migrated_url(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database()
    migrate(url)
    return url


def _empty_tables(url: str) -> None:
    engine = make_engine(url)
    try:
        names = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres":
        _server_url()
    return name


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on ``backend``."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'lifeline.sqlite'}"
        migrate(url)
        return url
    pg_url: str = request.getfixturevalue("postgres_migrated_url")
    _empty_tables(pg_url)
    return pg_url


@pytest.fixture
def new_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """A factory of empty, never migrated databases on ``backend``."""

    def make() -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'empty_{secrets.token_hex(4)}.sqlite'}"
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return server.create_database()

    return make


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A plain session on the migrated database; the test commits or rolls back itself."""
    with Session(engine, expire_on_commit=False) as s:
        yield s
