"""No input reaches a 500: backdating, attribute depth and size, datetimes at the edges of the
calendar, non-finite numbers, and actions racing without If-Match (issue 17, item 3)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from models.db import session_scope
from models.tables import CaseEvent, Notification
from sla_engine.kinds import EventKind
from tests.api.conftest import ApiWorld
from tests.casework.builders import CREATOR, T0

LATE_EDGE = "9999-12-31T23:59:59-14:00"
EARLY_EDGE = "0001-01-01T00:00:00+14:00"


def _iso(value: Any) -> str:
    return str(value.isoformat())


def _nested(depth: int) -> dict[str, Any]:
    """An object ``depth`` levels deep (the outer object is level 1)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def _pointers(response: Any) -> list[str]:
    return [e.get("pointer", e.get("parameter")) for e in response.json()["errors"]]


# --- backdating -----------------------------------------------------------------------------------


def test_a_case_backdated_beyond_30_days_is_refused_and_nothing_is_written(api: ApiWorld) -> None:
    opened_at = T0 - timedelta(days=30, seconds=1)
    response = api.post(
        "/v1/cases",
        json={"incident_type": "account_compromised", "attributes": CREATOR, "opened_at": _iso(opened_at)},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert _pointers(response) == ["/opened_at"]
    assert "30 days" in response.json()["detail"]
    with session_scope(api.engine, write=False) as session:
        assert session.exec(select(CaseEvent)).all() == []


def test_the_backdate_limit_comes_from_lifeline_max_backdate(
    api: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFELINE_MAX_BACKDATE", "P2D")
    body = {"incident_type": "account_compromised", "attributes": CREATOR}
    too_old = api.post("/v1/cases", json={**body, "opened_at": _iso(T0 - timedelta(days=2, minutes=1))})
    assert too_old.status_code == 422, too_old.text
    assert "2 days" in too_old.json()["detail"]
    fine = api.post("/v1/cases", json={**body, "opened_at": _iso(T0 - timedelta(days=1, hours=23))})
    assert fine.status_code == 201, fine.text


def test_a_case_backdated_29_days_queues_one_reminder_per_channel(api: ApiWorld) -> None:
    """The last stage repeats its notification every 2 h: 29 days back are ~340 reminders to
    tns-leads in the history, but one reminder webhook, which says how many it stands for; the
    notifications that are no reminders (breaches, stages entered) are each sent."""
    case = api.open_case(opened_at=_iso(T0 - timedelta(days=29)))
    with session_scope(api.engine, write=False) as session:
        events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case["id"])).all()
        queued = session.exec(select(Notification).where(Notification.case_id == case["id"])).all()
    notified = [e for e in events if e.kind == EventKind.NOTIFIED]
    reminders = [e for e in notified if "repeat" in e.data]
    assert len(reminders) > 300 and {e.data["channel"] for e in reminders} == {"tns-leads"}
    others = [e.seq for e in notified if "repeat" not in e.data]
    assert sorted(n.event_seq for n in queued) == sorted([*others, reminders[-1].seq])
    (reminder,) = [n for n in queued if n.event_seq == reminders[-1].seq]
    assert reminder.payload["superseded"] == len(reminders) - 1
    assert all("superseded" not in n.payload for n in queued if n is not reminder)


def test_a_case_opened_now_queues_each_notification(api: ApiWorld) -> None:
    case = api.open_case()
    api.clock.advance(hours=30)  # frontline (30 min at P1) and security (4 h) escalate in one action
    api.act(case["id"], "note", text="still looking")
    with session_scope(api.engine, write=False) as session:
        queued = session.exec(select(Notification).where(Notification.case_id == case["id"])).all()
    assert all("superseded" not in n.payload for n in queued if n.channel != "tns-leads")


# --- attributes -----------------------------------------------------------------------------------


def test_attributes_32_levels_deep_are_accepted_and_33_refused_with_the_pointer(api: ApiWorld) -> None:
    deep_ok = {**CREATOR, "extra": _nested(31)}  # attributes (1) + 31 = 32 levels
    case = api.open_case(deep_ok)
    assert api.get(f"/v1/cases/{case['id']}/events").status_code == 200
    too_deep = {**CREATOR, "extra": _nested(32)}
    response = api.post("/v1/cases", json={"incident_type": "account_compromised", "attributes": too_deep})
    assert response.status_code == 422, response.text
    assert _pointers(response) == ["/attributes/extra" + "/x" * 31]
    assert "deeper than 32" in response.json()["detail"]


def test_update_attributes_is_held_to_the_same_depth(api: ApiWorld) -> None:
    case = api.open_case()
    response = api.post(
        f"/v1/cases/{case['id']}/actions",
        json={"action": "update_attributes", "attributes": {"extra": _nested(40)}},
    )
    assert response.status_code == 422, response.text
    assert _pointers(response)[0].startswith("/attributes/extra/x")
    assert api.get(f"/v1/cases/{case['id']}").json()["version"] == case["version"]


@pytest.mark.parametrize("depth", [255, 300, 985, 5000])
def test_very_deep_bodies_are_422_not_500(api: ApiWorld, depth: int) -> None:
    body = '{"incident_type": "account_compromised", "attributes": {"extra": ' + '{"x": ' * depth
    body += "1" + "}" * depth + "}}"
    response = api.post("/v1/cases", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_attributes_over_64_kib_are_refused(api: ApiWorld) -> None:
    big = {**CREATOR, "notes": ["x" * 1000] * 70}
    response = api.post("/v1/cases", json={"incident_type": "account_compromised", "attributes": big})
    assert response.status_code == 422, response.text
    assert _pointers(response) == ["/attributes"]
    case = api.open_case({**CREATOR, "notes": ["x" * 1000] * 40})
    grow = api.post(
        f"/v1/cases/{case['id']}/actions",
        json={"action": "update_attributes", "attributes": {"more": ["y" * 1000] * 40}},
    )
    assert grow.status_code == 422, grow.text
    assert _pointers(grow) == ["/attributes"]


# --- non-finite numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e999", "-1e999"])
def test_non_finite_numbers_are_refused_when_opening(api: ApiWorld, number: str) -> None:
    body = (
        '{"incident_type": "account_compromised", "attributes": {"impact": {"estimated_daily_revenue": '
        + number
        + "}}}"
    )
    response = api.post("/v1/cases", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert _pointers(response) == ["/attributes/impact/estimated_daily_revenue"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e999"])
def test_non_finite_numbers_never_change_attributes(api: ApiWorld, number: str) -> None:
    case = api.open_case({**CREATOR, "impact": {"estimated_daily_revenue": 120.5}})
    body = (
        '{"action": "update_attributes", "attributes": {"impact": {"estimated_daily_revenue": '
        + number
        + "}}}"
    )
    response = api.post(
        f"/v1/cases/{case['id']}/actions", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert _pointers(response) == ["/attributes/impact/estimated_daily_revenue"]
    after = api.get(f"/v1/cases/{case['id']}").json()
    assert after["attributes"]["impact"]["estimated_daily_revenue"] == 120.5


def test_non_finite_numbers_in_a_policy_to_validate_are_422(api: ApiWorld) -> None:
    response = api.post(
        "/v1/policies/validate",
        content='{"id": "x", "weight": NaN}',
        headers={"Content-Type": "application/json"},
        who="admin",
    )
    assert response.status_code == 422, response.text
    assert _pointers(response) == ["/weight"]


# --- datetimes at the edges -----------------------------------------------------------------------


EDGE_QUERIES = [
    ("/v1/cases?due_before={}", "agent"),
    ("/v1/breaches?since={}", "auditor"),
    ("/v1/breaches?until={}", "auditor"),
    ("/v1/reports/compliance?from={}", "auditor"),
    ("/v1/reports/compliance?to={}", "auditor"),
    ("/v1/audit/export?from={}", "auditor"),
    ("/v1/audit/export?to={}", "auditor"),
    ("/v1/audit/verify?since={}", "auditor"),
]


@pytest.mark.parametrize("edge", [LATE_EDGE, EARLY_EDGE])
@pytest.mark.parametrize(("url", "who"), EDGE_QUERIES)
def test_edge_datetimes_in_queries_are_422(api: ApiWorld, url: str, who: str, edge: str) -> None:
    api.open_case()
    response = api.get(url.format(edge.replace("+", "%2B")), who=who)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "out of range" in response.text


@pytest.mark.parametrize("edge", [LATE_EDGE, EARLY_EDGE])
def test_edge_datetimes_in_bodies_are_422(api: ApiWorld, edge: str) -> None:
    opened = api.post("/v1/cases", json={"incident_type": "account_compromised", "opened_at": edge})
    assert opened.status_code == 422, opened.text
    assert _pointers(opened) == ["/opened_at"]
    impact = {"next_sponsored_post_at": edge}
    sponsored = api.post(
        "/v1/cases", json={"incident_type": "account_compromised", "attributes": {"impact": impact}}
    )
    assert sponsored.status_code == 422, sponsored.text
    assert _pointers(sponsored) == ["/attributes/impact/next_sponsored_post_at"]
    extra = api.post("/v1/cases", json={"incident_type": "account_compromised", "attributes": {"when": edge}})
    assert extra.status_code == 422, extra.text
    simulated = api.post(
        "/v1/policies/account-compromised/simulate", json={"case": {"opened_at": edge, "attributes": {}}}
    )
    assert simulated.status_code == 422, simulated.text
    assert _pointers(simulated) == ["/case/opened_at"]


@pytest.mark.parametrize("number", ["1700000000", "0", "1e3"])
def test_plain_numbers_are_not_datetimes(api: ApiWorld, number: str) -> None:
    response = api.get(f"/v1/cases?due_before={number}")
    assert response.status_code == 422, response.text
    assert "not a number" in response.text
    body = {"incident_type": "account_compromised", "opened_at": json.loads(number)}
    opened = api.post("/v1/cases", json=body)
    assert opened.status_code == 422, opened.text
    assert _pointers(opened) == ["/opened_at"]


# --- streams --------------------------------------------------------------------------------------


def test_an_export_failing_mid_stream_is_not_a_complete_200(
    api: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The response has started (200 and a first line); the failure must reach the server (which
    then drops the connection before the final chunk), not end the body as if it were complete."""
    from api.routes import audit

    def failing_chunks(*args: Any) -> Any:
        yield '{"case_id": "cs_1"}\n'
        raise RuntimeError("database went away")

    monkeypatch.setattr(audit, "export_chunks", failing_chunks)
    with pytest.raises(RuntimeError, match="database went away"):
        api.get("/v1/audit/export", who="auditor")


# --- races without If-Match -----------------------------------------------------------------------


def test_an_action_whose_instant_precedes_a_concurrent_change_is_applied_after_it(api: ApiWorld) -> None:
    """Two requests without If-Match: the one that read the clock first commits second. It is
    applied at the last change's instant, not refused with a 422 blaming a field /at."""
    case = api.open_case()
    api.clock.advance(minutes=10)
    api.act(case["id"], "acknowledge")
    api.clock.now -= timedelta(minutes=5)  # the second request read the clock before the first committed
    noted = api.act(case["id"], "note", text="seen")
    assert noted["version"] == case["version"] + 2
    events = api.get(f"/v1/cases/{case['id']}/events").json()["items"]
    assert events[-1]["kind"] == "note_added"
    assert events[-1]["at"] == _iso(T0 + timedelta(minutes=10)).replace("+00:00", "Z")


def test_over_real_http_a_failed_export_is_an_incomplete_transfer(
    api: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through uvicorn: the client gets the 200 and the first line, then the connection ends
    before the chunked body's end, which httpx reports as an error (not a complete file)."""
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    from api.routes import audit

    def failing_chunks(*args: Any) -> Any:
        yield '{"case_id": "cs_1"}\n'
        raise RuntimeError("database went away")

    monkeypatch.setattr(audit, "export_chunks", failing_chunks)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api.client.app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/v1/audit/export"
        with httpx.stream("GET", url, headers=api.auth("auditor"), timeout=20) as response:
            assert response.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                response.read()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
