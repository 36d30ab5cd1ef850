"""POST /v1/notifications/redeliver: admins queue dead notifications again."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from models.db import session_scope
from models.kinds import NotificationStatus
from models.tables import CaseEvent, Notification
from sla_engine.kinds import EventKind
from tests.api.conftest import ApiWorld


def _dead(api: ApiWorld, case_id: str, seq: int) -> int:
    with session_scope(api.engine) as session:
        row = Notification(
            case_id=case_id,
            event_seq=seq,
            channel="support-leads",
            payload={},
            status=NotificationStatus.DEAD,
            attempts=5,
            last_error="HTTP 503",
            created_at=api.clock.now - timedelta(minutes=1),
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def test_an_admin_redelivers_a_cases_dead_notifications(api: ApiWorld) -> None:
    case_id = api.open_case()["id"]
    other = api.open_case()["id"]
    mine = _dead(api, case_id, 101)
    _dead(api, other, 101)

    response = api.post("/v1/notifications/redeliver", who="admin", json={"case_id": case_id})

    assert response.status_code == 200, response.text
    assert response.json() == {"count": 1, "notification_ids": [mine]}
    with session_scope(api.engine, write=False) as session:
        row = session.get(Notification, mine)
        assert row is not None
        assert (row.status, row.attempts, row.next_attempt_at) == (
            NotificationStatus.PENDING,
            0,
            api.clock.now,
        )
        [event] = session.exec(select(CaseEvent).where(CaseEvent.kind == EventKind.NOTIFICATION_REDELIVERED))
    assert event.case_id == case_id and event.actor.startswith("admin:")
    assert event.data["previous_error"] == "HTTP 503"
    assert api.post("/v1/notifications/redeliver", who="admin", json={}).json()["count"] == 1  # the other


def test_only_admins_redeliver_and_bad_input_is_a_problem(api: ApiWorld) -> None:
    assert api.post("/v1/notifications/redeliver", who="agent", json={}).status_code == 403
    assert api.post("/v1/notifications/redeliver", who="auditor", json={}).status_code == 403
    unknown = api.post("/v1/notifications/redeliver", who="admin", json={"case_id": "cs_nope"})
    naive = api.post("/v1/notifications/redeliver", who="admin", json={"since": "2026-03-01T00:00:00"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert naive.status_code == 422
