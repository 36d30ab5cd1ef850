"""Bad input never yields a 500 or a traceback: every error is problem+json saying what and where."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.deps import get_now
from tests.api.conftest import ApiWorld
from tests.casework.builders import CREATOR

PROBLEM = "application/problem+json"


def _problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


def _pointers(body: dict) -> list[str]:
    return [e.get("pointer", e.get("parameter")) for e in body["errors"]]


def test_malformed_json_is_400(api: ApiWorld) -> None:
    response = api.post(
        "/v1/cases", content=b'{"incident_type": ', headers={"Content-Type": "application/json"}
    )
    assert _problem(response, 400)["type"] == "/problems/malformed-json"


def test_wrong_types_point_at_each_field(api: ApiWorld) -> None:
    body = {
        "incident_type": 42,
        "attributes": {"creator": {"followers": "many"}, "impact": {"monetized": "yes"}},
    }
    problem = _problem(api.post("/v1/cases", json=body), 422)
    assert set(_pointers(problem)) == {
        "/incident_type",
        "/attributes/creator/followers",
        "/attributes/impact/monetized",
    }


def test_a_naive_datetime_is_refused_with_its_pointer(api: ApiWorld) -> None:
    attributes = {**CREATOR, "impact": {"next_sponsored_post_at": "2026-03-02T20:00:00"}}
    problem = _problem(
        api.post("/v1/cases", json={"incident_type": "account_compromised", "attributes": attributes}), 422
    )
    assert _pointers(problem) == ["/attributes/impact/next_sponsored_post_at"]
    assert "UTC offset" in problem["errors"][0]["message"]


def test_naive_query_datetime_names_the_parameter(api: ApiWorld) -> None:
    problem = _problem(api.get("/v1/cases?due_before=2026-03-02T10:00:00"), 422)
    assert _pointers(problem) == ["due_before"]


def test_unknown_fields_and_missing_policy_are_named(api: ApiWorld) -> None:
    problem = _problem(api.post("/v1/cases", json={"incident_typo": "x"}), 422)
    assert "/incident_typo" in _pointers(problem)


def test_an_unknown_incident_type_or_a_future_opening_points_at_the_field(api: ApiWorld) -> None:
    unknown = _problem(api.post("/v1/cases", json={"incident_type": "alien_abduction"}), 422)
    policy = _problem(api.post("/v1/cases", json={"policy_id": "nope"}), 422)
    future = _problem(
        api.post(
            "/v1/cases", json={"incident_type": "account_compromised", "opened_at": "2030-01-01T00:00:00Z"}
        ),
        422,
    )

    assert _pointers(unknown) == ["/incident_type"] and "alien_abduction" in unknown["detail"]
    assert _pointers(policy) == ["/policy_id"]
    assert _pointers(future) == ["/opened_at"]


def test_unknown_action_and_bad_arguments(api: ApiWorld) -> None:
    case_id = api.open_case()["id"]
    url = f"/v1/cases/{case_id}/actions"

    unknown = _problem(api.post(url, json={"action": "teleport"}), 422)
    missing = _problem(api.post(url, json={"text": "no action"}), 422)
    no_text = _problem(api.post(url, json={"action": "note"}), 422)
    extra = _problem(api.post(url, json={"action": "acknowledge", "colour": "red"}), 422)
    bad_priority = _problem(api.post(url, json={"action": "set_priority", "priority": "P9"}), 422)
    bad_stage = _problem(api.post(url, json={"action": "escalate", "to_stage": "moon"}), 422)
    not_object = _problem(api.post(url, json=["acknowledge"]), 422)

    assert _pointers(unknown) == ["/action"] and "teleport" in unknown["errors"][0]["message"]
    assert _pointers(missing) == ["/action"]
    assert _pointers(no_text) == ["/text"]
    assert _pointers(extra) == ["/colour"]
    assert _pointers(bad_priority) == ["/priority"] and "P9" in bad_priority["detail"]
    assert _pointers(bad_stage) == ["/to_stage"]
    assert not_object["errors"]


def test_unknown_case_route_and_method(api: ApiWorld) -> None:
    _problem(api.get("/v1/cases/cs_NOPE"), 404)
    _problem(api.post("/v1/cases/cs_NOPE/actions", json={"action": "acknowledge"}), 404)
    _problem(api.get("/v1/nothing-here"), 404)
    _problem(api.client.delete("/v1/cases", headers=api.auth("agent")), 405)


def test_a_bad_if_match_or_cursor_is_a_clear_error(api: ApiWorld) -> None:
    case_id = api.open_case()["id"]
    bad_etag = api.post(
        f"/v1/cases/{case_id}/actions", json={"action": "acknowledge"}, headers={"If-Match": "soon"}
    )
    _problem(bad_etag, 400)
    assert _pointers(_problem(api.get("/v1/cases?cursor=garbage!"), 422)) == ["cursor"]
    assert _pointers(_problem(api.get("/v1/cases?limit=0"), 422)) == ["limit"]


def test_bodies_over_one_mebibyte_are_413(api: ApiWorld) -> None:
    huge = (
        b'{"incident_type": "account_compromised", "attributes": {"summary": "'
        + b"x" * (1024 * 1024)
        + b'"}}'
    )
    declared = api.post("/v1/cases", content=huge, headers={"Content-Type": "application/json"})

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start : start + 64 * 1024]

    streamed = api.post("/v1/cases", content=chunks(), headers={"Content-Type": "application/json"})

    assert _problem(declared, 413)["type"] == "/problems/payload-too-large"
    _problem(streamed, 413)
    assert api.get("/v1/cases").json()["items"] == []


def test_an_unexpected_failure_is_a_bare_500_problem(api: ApiWorld) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app = api.client.app
    app.dependency_overrides[get_now] = broken  # type: ignore[attr-defined]
    with TestClient(app) as client:
        response = client.get("/v1/cases/cs_any", headers=api.auth("agent"))
    body = _problem(response, 500)
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert body["type"] == "/problems/internal-error"


NOT_AN_OBJECT = "valid dictionary or object"


@pytest.mark.parametrize(
    ("body", "pointer", "message"),
    [
        (None, "", "Field required"),
        ("", "", "Field required"),
        ("null", "", "Field required"),
        ("[]", "", NOT_AN_OBJECT),
        ('"text"', "", NOT_AN_OBJECT),
        ("1e999", "", "inf is not a finite number"),
        ("NaN", "", "nan is not a finite number"),
        ('{"attributes": null}', "/attributes", NOT_AN_OBJECT),
        ('{"incident_type": null}', "", "name an incident_type or a policy_id"),
        ("[" * 100_000 + "]" * 100_000, "", "nested deeper than 64 levels"),
        (
            '{"incident_type": "account_compromised", "attributes": {"x": '
            + '{"a": ' * 3000
            + "1"
            + "}" * 3001,
            "",
            "nested deeper than 64 levels",
        ),
    ],
    ids=lambda value: repr(value)[:24],
)
def test_odd_json_bodies_are_422_saying_why(
    api: ApiWorld, body: str | None, pointer: str, message: str
) -> None:
    # No body, or JSON that is not a case: 422 (malformed JSON is 400 malformed-json, tested above).
    response = api.post("/v1/cases", content=body, headers={"Content-Type": "application/json"})
    problem = _problem(response, 422)
    assert problem["type"] == "/problems/validation-error"
    assert problem["errors"][0]["pointer"] == pointer
    assert message in problem["errors"][0]["message"]
    assert api.get("/v1/cases").json()["items"] == []
