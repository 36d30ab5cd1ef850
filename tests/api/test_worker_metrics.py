"""/metrics and /healthz on the worker side: deliveries by channel and outcome, retries, outbox depth
and the age of its oldest undelivered notification, and the orchestrator mode of live workers."""

from __future__ import annotations

from datetime import timedelta

from models.db import session_scope
from models.kinds import NotificationStatus
from models.tables import Notification, WorkerHeartbeat
from tests.api.conftest import ApiWorld
from tests.api.test_operations import _metric


def _notification(
    api: ApiWorld, case_id: str, seq: int, channel: str, status: str, attempts: int, age: float
) -> None:
    with session_scope(api.engine) as session:
        session.add(
            Notification(
                case_id=case_id,
                event_seq=seq,
                channel=channel,
                payload={},
                status=NotificationStatus(status),
                attempts=attempts,
                created_at=api.clock.now - timedelta(seconds=age),
                next_attempt_at=api.clock.now if status == "pending" else None,
            )
        )


def _beat(api: ApiWorld, worker_id: str, mode: str, seconds_ago: float) -> None:
    with session_scope(api.engine) as session:
        beat_at = api.clock.now - timedelta(seconds=seconds_ago)
        session.add(WorkerHeartbeat(worker_id=worker_id, beat_at=beat_at, orchestrator=mode))


def test_metrics_report_deliveries_retries_outbox_depth_and_oldest_age(api: ApiWorld) -> None:
    case_id = api.open_case()["id"]
    _notification(api, case_id, 101, "support-leads", "delivered", attempts=1, age=300)
    _notification(api, case_id, 102, "support-leads", "delivered", attempts=3, age=200)
    _notification(api, case_id, 103, "support-leads", "dead", attempts=5, age=150)
    _notification(api, case_id, 104, "tns-leads", "pending", attempts=2, age=90)
    _notification(api, case_id, 105, "tns-leads", "pending", attempts=0, age=10)

    text = api.get("/metrics", who=None).text

    assert (
        _metric(text, 'lifeline_notification_deliveries_total{channel="support-leads",outcome="delivered"}')
        == 2
    )
    assert (
        _metric(text, 'lifeline_notification_deliveries_total{channel="support-leads",outcome="dead"}') == 1
    )
    assert _metric(text, 'lifeline_notification_retries_total{channel="support-leads"}') == 7  # 1+3+5 - 2
    assert _metric(text, 'lifeline_notification_retries_total{channel="tns-leads"}') == 2
    assert _metric(text, "lifeline_outbox_depth ") == 2
    assert _metric(text, "lifeline_outbox_oldest_age_seconds ") == 90


def test_an_empty_outbox_has_depth_and_age_zero(api: ApiWorld) -> None:
    text = api.get("/metrics", who=None).text
    assert _metric(text, "lifeline_outbox_depth ") == 0
    assert _metric(text, "lifeline_outbox_oldest_age_seconds ") == 0


def test_a_live_worker_sweeping_without_prefect_makes_healthz_and_metrics_say_degraded(api: ApiWorld) -> None:
    _beat(api, "w1", "prefect", seconds_ago=2)
    all_prefect = api.get("/healthz", who=None).json()
    _beat(api, "w2", "degraded", seconds_ago=3)
    _beat(api, "w3", "degraded", seconds_ago=600)  # stale: not counted

    health = api.get("/healthz", who=None).json()
    text = api.get("/metrics", who=None).text

    assert all_prefect["orchestrator"] == "prefect"
    assert health["orchestrator"] == "degraded" and health["checks"]["worker"]["orchestrator"] == "degraded"
    assert _metric(text, 'lifeline_workers{orchestrator="prefect"}') == 1
    assert _metric(text, 'lifeline_workers{orchestrator="degraded"}') == 1


def test_without_a_worker_the_orchestrator_is_null(api: ApiWorld) -> None:
    assert api.get("/healthz", who=None).json()["orchestrator"] is None
