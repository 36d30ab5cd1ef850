"""The engine's connection settings and the transaction scope."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from models.db import make_engine, normalize_url, session_scope
from models.tables import IdempotencyKey, WorkerHeartbeat

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_sqlite_file_uses_wal_foreign_keys_a_busy_timeout_and_memory_for_temporary_storage(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
            assert conn.exec_driver_sql("PRAGMA temp_store").scalar() == 2  # MEMORY (db.py says why)
    finally:
        engine.dispose()


def test_postgres_urls_use_psycopg_3() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.sqlite").drivername == "sqlite"


def test_scope_commits_on_success_and_rolls_back_on_error(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(WorkerHeartbeat(worker_id="kept", beat_at=NOON))
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(WorkerHeartbeat(worker_id="lost", beat_at=NOON))
        session.flush()
        raise RuntimeError("crash after the flush")
    with session_scope(engine, write=False) as session:
        assert [h.worker_id for h in session.exec(select(WorkerHeartbeat))] == ["kept"]


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(IdempotencyKey(key="k", request_hash="0" * 64, case_id="cs_missing", created_at=NOON))
