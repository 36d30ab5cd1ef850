"""Policy language v2 over HTTP: opening waiting on the creator, the public reply, acknowledging a
case already in progress, and request_info's ``until`` (valid, and refused with a pointer)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.api.conftest import ApiWorld
from tests.casework.builders import T0


def _clock(case: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in case["clocks"] if c["name"] == name)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_case_opened_waiting_on_the_creator_has_its_resolution_paused(api: ApiWorld) -> None:
    case = api.open_case(status="waiting_on_creator")

    assert case["status"] == "waiting_on_creator"
    assert _clock(case, "resolution")["state"] == "paused"
    assert _clock(case, "first_response")["state"] == "running"
    events = api.get(f"/v1/cases/{case['id']}/events").json()
    first = events["items"][0] if isinstance(events, dict) else events[0]
    assert first["kind"] == "opened" and first["data"]["status"] == "waiting_on_creator"


def test_opening_resolved_is_refused_naming_the_field(api: ApiWorld) -> None:
    body = {"incident_type": "account_compromised", "status": "resolved"}
    response = api.post("/v1/cases", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "status" in response.text


def test_reply_is_recorded_and_acknowledge_is_allowed_after_start(api: ApiWorld) -> None:
    case = api.open_case()
    api.clock.advance(minutes=2)
    api.act(case["id"], "start")
    replied = api.act(case["id"], "reply", message="We are restoring your access.")
    assert replied["status"] == "in_progress"
    acknowledged = api.act(case["id"], "acknowledge")
    assert acknowledged["status"] == "in_progress"
    kinds = [e["kind"] for e in _items(api.get(f"/v1/cases/{case['id']}/events").json())]
    assert kinds[-2:] == ["replied", "acknowledged"]


def test_reply_without_a_message_is_422(api: ApiWorld) -> None:
    case = api.open_case()
    response = api.post(f"/v1/cases/{case['id']}/actions", json={"action": "reply"})
    assert response.status_code == 422 and "message" in response.text


def test_request_info_until_sets_the_next_deadline(api: ApiWorld) -> None:
    case = api.open_case()
    until = T0 + timedelta(minutes=10)
    waiting = api.act(case["id"], "request_info", until=until.isoformat().replace("+00:00", "Z"))
    assert _instant(waiting["next_deadline_at"]) == until


def test_request_info_until_in_the_past_is_422_with_its_pointer(api: ApiWorld) -> None:
    case = api.open_case()
    body = {"action": "request_info", "until": (T0 - timedelta(hours=1)).isoformat()}
    response = api.post(f"/v1/cases/{case['id']}/actions", json=body)
    assert response.status_code == 422
    assert "until" in response.text


def _items(body: Any) -> list[dict[str, Any]]:
    return body["items"] if isinstance(body, dict) else body
