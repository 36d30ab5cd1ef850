"""An agent's work through the API: open, read every clock, act, page through queues, read history."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from casework.cases import lifecycle as cases
from models.db import session_scope
from tests.api.conftest import ApiWorld
from tests.casework.builders import CREATOR, T0

STANDARD = {**CREATOR, "creator": {**CREATOR["creator"], "tier": "standard"}, "impact": {"monetized": False}}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _clock(case: dict, name: str) -> dict:
    return next(c for c in case["clocks"] if c["name"] == name)


def test_open_case_shows_every_clock_its_deadline_and_why_the_priority(api: ApiWorld) -> None:
    response = api.post("/v1/cases", json={"incident_type": "account_compromised", "attributes": CREATOR})

    assert response.status_code == 201
    case = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith(f"/v1/cases/{case['id']}")
    assert (case["status"], case["priority"], case["queue"]) == ("open", "P1", "creator-support")
    assert case["priority_reason"] == "rule 1: partner or top creator"
    first = _clock(case, "first_response")
    assert first["target"] == "PT15M"
    assert _instant(first["due_at"]) == T0 + timedelta(minutes=15)
    assert (first["state"], first["remaining_seconds"], first["breached"]) == ("running", 900, False)
    assert first["timezone"] == "UTC"
    assert case["stage"]["id"] == "frontline"
    assert _instant(case["stage"]["escalates_at"]) == T0 + timedelta(minutes=30)
    assert _instant(case["next_deadline_at"]) == T0 + timedelta(minutes=11, seconds=15)  # warn at 75%


def test_get_case_counts_remaining_time_down_and_carries_the_version_as_etag(api: ApiWorld) -> None:
    case = api.open_case()
    api.clock.advance(minutes=10)

    response = api.get(f"/v1/cases/{case['id']}", who="auditor")

    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert _clock(response.json(), "first_response")["remaining_seconds"] == 300


def test_acknowledging_late_records_the_breach_and_by_how_much(api: ApiWorld) -> None:
    case = api.open_case()
    api.clock.advance(minutes=20)

    acked = api.act(case["id"], "acknowledge")

    first = _clock(acked, "first_response")
    assert (first["state"], first["breached"], first["met"]) == ("stopped", True, False)
    assert first["breached_by_seconds"] == 300
    assert acked["breached"] is True
    breaches = api.get("/v1/breaches?clock=first_response", who="auditor").json()["items"]
    assert [(b["case_id"], b["target"], _instant(b["due_at"])) for b in breaches] == [
        (case["id"], "first_response", T0 + timedelta(minutes=15))
    ]


def test_waiting_on_the_creator_pauses_resolution_and_moves_its_deadline(api: ApiWorld) -> None:
    case = api.open_case()
    api.clock.advance(minutes=5)
    api.act(case["id"], "acknowledge")
    paused = api.act(case["id"], "request_info", reason="need the recovery email")
    assert _clock(paused, "resolution")["state"] == "paused"
    assert paused["status"] == "waiting_on_creator"

    api.clock.advance(hours=1)
    resumed = api.act(case["id"], "creator_replied")

    resolution = _clock(resumed, "resolution")
    assert resolution["state"] == "running"
    assert _instant(resolution["due_at"]) == T0 + timedelta(hours=9)  # 8 h target + 1 h paused
    assert resolution["paused_seconds"] == 3600


def test_a_stale_if_match_is_refused_with_the_current_version(api: ApiWorld) -> None:
    case = api.open_case()
    api.act(case["id"], "note", text="called the creator")

    stale = api.post(
        f"/v1/cases/{case['id']}/actions", json={"action": "acknowledge"}, headers={"If-Match": '"1"'}
    )

    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["current_version"] == 2
    assert stale.headers["ETag"] == '"2"'
    fresh = api.post(
        f"/v1/cases/{case['id']}/actions", json={"action": "acknowledge"}, headers={"If-Match": '"2"'}
    )
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == '"3"'


def test_a_forbidden_transition_is_409_naming_both_states(api: ApiWorld) -> None:
    case = api.open_case()

    response = api.post(f"/v1/cases/{case['id']}/actions", json={"action": "close"})

    assert response.status_code == 409
    problem = response.json()
    assert (problem["from_status"], problem["to_status"], problem["action"]) == ("open", "closed", "close")
    assert "from open to closed" in problem["detail"]


def test_the_whole_day_of_a_case_is_in_its_history_with_actors_and_hashes(api: ApiWorld) -> None:
    case = api.open_case()
    api.clock.advance(minutes=3)
    api.act(case["id"], "acknowledge")
    api.act(case["id"], "escalate", reason="needs security")
    api.clock.advance(minutes=30)
    api.act(case["id"], "resolve")

    events = api.get(f"/v1/cases/{case['id']}/events", who="auditor").json()["items"]

    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["kind"] == "opened" and events[0]["actor"] == "agent:agent-1"
    assert events[0]["prev_hash"] == "0" * 64
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(events, events[1:], strict=False))
    assert {"escalated", "clock_stopped", "status_changed"} <= {e["kind"] for e in events}
    escalated = next(e for e in events if e["kind"] == "escalated")
    assert escalated["actor"] == "agent:agent-1"
    assert all(set(e) >= {"at", "recorded_at", "data", "policy_version"} for e in events)


def test_events_page_by_seq(api: ApiWorld) -> None:
    case = api.open_case()
    for n in range(3):
        api.act(case["id"], "note", text=f"note {n}")

    first = api.get(f"/v1/cases/{case['id']}/events?limit=2").json()
    second = api.get(first["next"]).json()

    assert [e["seq"] for e in first["items"]] == [1, 2]
    assert second["items"][0]["seq"] == 3


def test_same_idempotency_key_and_body_give_the_same_case(api: ApiWorld) -> None:
    body = {"incident_type": "account_compromised", "attributes": CREATOR}
    headers = {"Idempotency-Key": "8f0c6a8e-retry"}
    first = api.post("/v1/cases", json=body, headers=headers)
    api.clock.advance(minutes=1)

    again = api.post("/v1/cases", json=body, headers=headers)
    other = api.post("/v1/cases", json={**body, "attributes": STANDARD}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["type"] == "/problems/idempotency-key-reused"
    listed = api.get("/v1/cases").json()["items"]
    assert [c["id"] for c in listed] == [first.json()["id"]]


def test_idempotency_keys_are_kept_a_day_and_scoped_per_api_key(api: ApiWorld) -> None:
    body = {"incident_type": "account_compromised", "attributes": CREATOR}
    headers = {"Idempotency-Key": "k1"}
    first = api.post("/v1/cases", json=body, headers=headers).json()
    api.clock.advance(hours=23, minutes=59)
    assert api.post("/v1/cases", json=body, headers=headers).json()["id"] == first["id"]

    api.clock.advance(minutes=2)
    later = api.post("/v1/cases", json=body, headers=headers)

    assert later.status_code == 201
    assert later.json()["id"] != first["id"]


def test_list_orders_by_nearest_deadline_and_filters(api: ApiWorld) -> None:
    standard = api.open_case(STANDARD)  # P2: first warning at 45 min
    partner = api.open_case()  # P1: first warning at 11 min 15 s
    api.act(standard["id"], "assign", assignee="ana")
    api.act(partner["id"], "acknowledge")
    api.act(partner["id"], "resolve")  # nothing pending: listed last

    everything = api.get("/v1/cases").json()["items"]
    p2 = api.get("/v1/cases", params={"priority": "P2"}).json()["items"]
    open_ = api.get("/v1/cases", params={"status": ["open", "acknowledged"]}).json()["items"]
    mine = api.get("/v1/cases", params={"assignee": "ana"}).json()["items"]
    soon = api.get("/v1/cases", params={"due_before": (T0 + timedelta(hours=1)).isoformat()}).json()

    assert [c["id"] for c in everything] == [standard["id"], partner["id"]]
    assert everything[1]["next_deadline_at"] is None
    assert [c["id"] for c in p2] == [standard["id"]]
    assert [c["id"] for c in open_] == [standard["id"]]
    assert [c["id"] for c in mine] == [standard["id"]]
    assert [c["id"] for c in soon["items"]] == [standard["id"]]


def test_breached_filter(api: ApiWorld) -> None:
    late = api.open_case()
    on_time = api.open_case()
    api.act(on_time["id"], "acknowledge")
    api.clock.advance(minutes=20)
    api.act(late["id"], "acknowledge")

    breached = api.get("/v1/cases", params={"breached": "true"}).json()["items"]
    clean = api.get("/v1/cases", params={"breached": "false"}).json()["items"]

    assert [c["id"] for c in breached] == [late["id"]]
    assert [c["id"] for c in clean] == [on_time["id"]]


def test_cursor_pages_never_repeat_or_skip_a_case_when_others_are_opened_meanwhile(api: ApiWorld) -> None:
    opened = []
    for _ in range(5):
        opened.append(api.open_case(STANDARD)["id"])
        api.clock.advance(minutes=1)

    seen: list[str] = []
    page = api.get("/v1/cases", params={"limit": 2}).json()
    while True:
        seen.extend(c["id"] for c in page["items"])
        api.open_case(STANDARD)  # a newer case with a later deadline, inserted while paging
        api.clock.advance(minutes=1)
        if page["next"] is None:
            break
        page = api.get(page["next"]).json()

    assert seen[:5] == opened
    assert len(seen) == len(set(seen))


def test_concurrent_retries_with_one_idempotency_key_open_one_case(api: ApiWorld) -> None:
    body = {"incident_type": "account_compromised", "attributes": CREATOR}
    headers = {**api.auth("agent"), "Idempotency-Key": "double-click"}
    barrier = threading.Barrier(4)

    def post() -> tuple[int, str]:
        with TestClient(api.client.app) as client:
            barrier.wait()
            response = client.post("/v1/cases", json=body, headers=headers)
            return response.status_code, response.json().get("id", response.text)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: post(), range(4)))

    assert sorted(code for code, _ in results) == [200, 200, 200, 201]
    assert len({case_id for _, case_id in results}) == 1
    assert len(api.get("/v1/cases").json()["items"]) == 1


def test_two_agents_acting_on_one_read_one_wins_the_other_gets_412(api: ApiWorld) -> None:
    case = api.open_case()
    etag = api.get(f"/v1/cases/{case['id']}").headers["ETag"]
    url = f"/v1/cases/{case['id']}/actions"
    barrier = threading.Barrier(2)

    def act(assignee: str) -> int:
        with TestClient(api.client.app) as client:
            barrier.wait()
            response = client.post(
                url,
                json={"action": "assign", "assignee": assignee},
                headers={**api.auth("agent"), "If-Match": etag},
            )
            return response.status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(act, ["ana", "bo"]))

    assert codes == [200, 412]
    assert api.get(f"/v1/cases/{case['id']}").headers["ETag"] == '"2"'


def test_list_serves_the_summary_only_when_it_is_text(api: ApiWorld) -> None:
    # Read from the stored attributes in SQL: any text comes back exactly (escapes, a NUL, emoji),
    # anything else is null, as in the case view.
    odd = 'line\nbreak "quoted" back\\slash \x00 nul é 😀 \u2028'
    with_text = api.open_case({**CREATOR, "summary": odd})
    without = api.open_case({"creator": CREATOR["creator"]})
    kind = "account_compromised"
    with session_scope(api.engine) as session:  # not through the API, which wants text
        number = cases.open_case(
            session,
            attributes={**CREATOR, "summary": 42},
            actor="agent:x",
            now=api.clock(),
            incident_type=kind,
        ).case.id
        nested = cases.open_case(
            session,
            attributes={**CREATOR, "summary": {"summary": "no"}},
            actor="agent:x",
            now=api.clock(),
            incident_type=kind,
        ).case.id

    listed = {c["id"]: c["summary"] for c in api.get("/v1/cases").json()["items"]}

    assert listed == {with_text["id"]: odd, without["id"]: None, number: None, nested: None}


def test_cursor_pages_through_cases_with_nothing_pending(api: ApiWorld) -> None:
    done = []
    for _ in range(3):
        case = api.open_case()
        api.act(case["id"], "acknowledge")
        api.act(case["id"], "resolve")
        done.append(case["id"])
    pending = api.open_case()

    seen: list[str] = []
    url: str | None = "/v1/cases?limit=1&status=open&status=resolved"
    while url is not None:
        page = api.get(url).json()
        seen.extend(c["id"] for c in page["items"])
        url = page["next"]

    assert seen == [pending["id"], *sorted(done)]


def test_list_items_show_the_stage_and_every_clock_as_the_case_view_does(api: ApiWorld) -> None:
    case = api.open_case()  # P1: first response in 15 min, resolution in 8 h, escalates at 30 min
    api.clock.advance(minutes=20)
    api.act(case["id"], "acknowledge")  # 5 min late
    api.act(case["id"], "request_info")  # resolution pauses
    api.clock.advance(minutes=10)

    listed = api.get("/v1/cases").json()["items"][0]
    view = api.get(f"/v1/cases/{case['id']}").json()

    first, resolution = _clock(listed, "first_response"), _clock(listed, "resolution")
    assert first == {
        "name": "first_response",
        "state": "stopped",
        "due_at": first["due_at"],
        "remaining_seconds": -300.0,
        "breached": True,
    }
    assert _instant(first["due_at"]) == T0 + timedelta(minutes=15)
    assert (resolution["state"], resolution["remaining_seconds"]) == ("paused", 8 * 3600 - 20 * 60)
    assert listed["stage"]["id"] == "frontline" and listed["stage"]["queue"] == "creator-support"
    assert listed["priority_reason"] == view["priority_reason"] == "rule 1: partner or top creator"
    # Same shapes: every field of a list item's stage and clocks is the detail's, with its value.
    assert listed["stage"] == {k: view["stage"][k] for k in listed["stage"]}
    assert listed["clocks"] == [{k: c[k] for k in first} for c in view["clocks"]]
