"""/healthz and /metrics as an operator and Prometheus see them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from casework.registry import policy_registry
from models.db import make_engine, session_scope
from models.tables import WorkerHeartbeat
from tests.api.conftest import ApiWorld
from tests.casework.builders import T0, register
from tests.engine.builders import make_policy


def _beat(api: ApiWorld, minutes_ago: float) -> None:
    with session_scope(api.engine) as session:
        session.add(WorkerHeartbeat(worker_id="w1", beat_at=api.clock.now - timedelta(minutes=minutes_ago)))


def test_healthz_reports_database_schema_and_worker_age(api: ApiWorld) -> None:
    without_worker = api.get("/healthz", who=None).json()
    _beat(api, minutes_ago=0.25)
    healthy = api.get("/healthz", who=None).json()
    api.clock.advance(minutes=5)
    stale = api.get("/healthz", who=None)

    assert without_worker["status"] == "warn"
    assert without_worker["checks"]["worker"]["heartbeat_age_seconds"] is None
    assert healthy["status"] == "pass"
    assert {name: c["status"] for name, c in healthy["checks"].items()} == {
        "database": "pass",
        "schema": "pass",
        "worker": "pass",
    }
    assert healthy["checks"]["worker"]["heartbeat_age_seconds"] == 15
    assert stale.status_code == 200
    assert stale.json()["checks"]["worker"]["status"] == "warn"


def test_healthz_is_503_on_a_database_whose_schema_is_behind(new_database_url: Callable[[], str]) -> None:
    engine = make_engine(new_database_url())
    try:
        with TestClient(create_app(engine, clock=lambda: T0)) as client:
            response = client.get("/healthz")
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "lifeline db upgrade" in response.json()["detail"]


def _metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric line starts with {line_start!r}:\n{text}")


def test_metrics_count_open_cases_breaches_escalations_lag_and_requests(api: ApiWorld) -> None:
    late = api.open_case()
    api.open_case()
    api.clock.advance(minutes=20)
    api.act(late["id"], "acknowledge")  # first response breached at +15 min
    api.act(late["id"], "escalate")

    response = api.get("/metrics", who=None)
    text = response.text

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert _metric(text, 'lifeline_open_cases{priority="P1",stage="frontline"}') == 1
    assert _metric(text, 'lifeline_open_cases{priority="P1",stage="security"}') == 1
    assert _metric(text, 'lifeline_breaches_total{target="first_response",target_type="clock"}') == 1
    assert _metric(text, "lifeline_escalations_total") == 1
    # The untouched case's warning was due at +11 min 15 s and no worker ran: 8 min 45 s behind.
    assert _metric(text, "lifeline_sweep_lag_seconds") == 525
    assert _metric(text, 'lifeline_http_requests_total{method="POST",route="/v1/cases",status="201"}') == 2
    assert (
        _metric(text, 'lifeline_http_requests_total{method="POST",route="/v1/cases/{case_id}/actions"') == 2
    )


def test_the_api_starts_when_a_registered_policy_cannot_be_parsed(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Registered versions are parsed at startup; one whose calendar has gone is logged, not fatal.
    register(engine, make_policy(calendar="it-business"), now=T0)
    policy_registry.clear_cache()
    (tmp_path / "calendars").mkdir()
    monkeypatch.setenv("LIFELINE_POLICIES_DIR", str(tmp_path))
    try:
        with caplog.at_level(logging.WARNING, "lifeline.api"), TestClient(create_app(engine)) as client:
            health = client.get("/healthz")
            # The database is reachable and migrated; no worker has reported: serving, with a warning.
            assert (health.status_code, health.json()["status"]) == (200, "warn")
    finally:
        policy_registry.clear_cache()
    assert any("test-policy v1" in r.getMessage() for r in caplog.records)
