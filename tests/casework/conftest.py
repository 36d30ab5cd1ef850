"""Fixtures shared by the services' tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from casework.cases.escalations import apply_due_timers
from models.db import session_scope
from models.tables import Notification
from tests.casework.builders import open_one, register
from tests.casework.outbox_rows import NOW


@pytest.fixture
def notification_ids(engine: Engine) -> list[int]:
    """Two cases whose due timers queued two notifications each (every row pending, due at once)."""
    register(engine)
    case_ids = [open_one(engine).case.id for _ in range(2)]
    with session_scope(engine) as s:
        apply_due_timers(s, case_ids, NOW)
        ids = [n for n in s.exec(select(Notification.id).order_by(col(Notification.id))) if n is not None]
    assert len(ids) == 4
    return ids
