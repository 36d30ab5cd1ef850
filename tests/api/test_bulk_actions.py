"""Bulk actions over HTTP: one action on listed cases or on a filter's cases, each case its own
transaction and version check, every case's result, idempotent by key."""

from __future__ import annotations

from tests.api.conftest import ApiWorld
from tests.casework.builders import CREATOR


def _bulk(api: ApiWorld, body: dict, key: str | None = None, expect: int = 200) -> dict:
    headers = {"Idempotency-Key": key} if key else {}
    response = api.post("/v1/cases/bulk-actions", json=body, headers=headers)
    assert response.status_code == expect, response.text
    result: dict = response.json()
    return result


def _events(api: ApiWorld, case_id: str) -> list[str]:
    return [e["kind"] for e in api.get(f"/v1/cases/{case_id}/events").json()["items"]]


def test_listed_cases_each_get_their_own_result(api: ApiWorld) -> None:
    fresh, moved, resolved = api.open_case(), api.open_case(), api.open_case()
    api.act(moved["id"], "note", text="someone else got there first")
    api.act(resolved["id"], "resolve")
    targets = [{"id": c["id"], "version": c["version"]} for c in (fresh, moved)]
    targets += [{"id": resolved["id"], "version": 2}, {"id": "cs_nope", "version": 1}]

    answer = _bulk(api, {"action": {"action": "acknowledge"}, "cases": targets})

    assert answer["counts"] == {"done": 1, "stale": 1, "forbidden": 1, "not_found": 1, "invalid": 0}
    assert [(r["case_id"], r["result"]) for r in answer["results"]] == [
        (fresh["id"], "done"),
        (moved["id"], "stale"),
        (resolved["id"], "forbidden"),
        ("cs_nope", "not_found"),
    ]
    assert answer["results"][0]["version"] == 2
    assert "acknowledged" in [
        e["data"].get("to") for e in api.get(f"/v1/cases/{fresh['id']}/events").json()["items"]
    ]
    assert api.get(f"/v1/cases/{moved['id']}").json()["status"] == "open"  # the stale case is untouched


def test_a_filter_selects_the_cases_and_a_retry_with_the_key_changes_nothing(api: ApiWorld) -> None:
    wave = [api.open_case() for _ in range(5)]
    other = api.open_case({**CREATOR, "creator": {**CREATOR["creator"], "id": "cr_other"}})
    body = {
        "action": {"action": "assign", "assignee": "ana"},
        "filter": {"creator": "cr_1", "status": ["open"]},
    }

    first = _bulk(api, body, key="wave-42")
    again = api.post("/v1/cases/bulk-actions", json=body, headers={"Idempotency-Key": "wave-42"})

    assert first["total"] == 5 and first["counts"]["done"] == 5
    assert sorted(r["case_id"] for r in first["results"]) == sorted(c["id"] for c in wave)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first
    assert all(_events(api, c["id"]).count("assigned") == 1 for c in wave)
    assert "assigned" not in _events(api, other["id"])
    reused = api.post(
        "/v1/cases/bulk-actions",
        json={**body, "filter": {"queue": "x"}},
        headers={"Idempotency-Key": "wave-42"},
    )
    assert reused.status_code == 422


def test_a_parent_with_open_children_is_forbidden_in_bulk_too(api: ApiWorld) -> None:
    parent = api.open_case()
    api.post(f"/v1/cases/{parent['id']}/children", json={"incident_type": "account_compromised"})

    answer = _bulk(api, {"action": {"action": "resolve"}, "cases": [{"id": parent["id"], "version": 2}]})

    assert answer["results"][0]["result"] == "forbidden"
    assert "open child" in answer["results"][0]["detail"]


def test_bad_bulk_requests_are_refused_saying_where(api: ApiWorld) -> None:
    both = {"action": {"action": "acknowledge"}, "filter": {}, "cases": [{"id": "x", "version": 1}]}
    assert _bulk(api, both, expect=422)["errors"][0]["pointer"] == ""
    unknown = _bulk(api, {"action": {"action": "dance"}, "filter": {}}, expect=422)
    assert unknown["errors"][0]["pointer"].startswith("/action")
    bad_filter = _bulk(api, {"action": {"action": "acknowledge"}, "filter": {"stauts": "open"}}, expect=422)
    assert bad_filter["errors"][0]["pointer"] == "/filter/stauts"
    assert (
        api.post(
            "/v1/cases/bulk-actions", who="auditor", json={"action": {"action": "acknowledge"}, "filter": {}}
        ).status_code
        == 403
    )
