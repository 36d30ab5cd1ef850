"""api.fast_solve answers exactly as FastAPI's own solving: the same bytes for the same requests,
valid or not, with and without a key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import fastapi.routing
import pytest
from fastapi.routing import APIRoute

from api import fast_solve
from api.rate_limit import FailedAuthLimiter
from tests.api.conftest import ApiWorld
from tests.casework.builders import CREATOR

REQUESTS = [
    "/v1/cases",
    "/v1/cases?queue=creator-support&limit=2",
    "/v1/cases?status=open&status=acknowledged&breached=false&limit=3",
    "/v1/cases?breached=yes&priority=P1&incident_type=account_compromised",
    "/v1/cases?due_before=2030-01-01T00:00:00Z&assignee=me",
    "/v1/cases?limit=0",  # 422: below the minimum
    "/v1/cases?limit=abc&breached=maybe",  # 422 naming both
    "/v1/cases?due_before=12345",  # 422: a number is not an instant
    "/v1/cases?status=bogus",
    "/v1/cases?queue=" + "q" * 101,  # 422: too long
    "/v1/cases?unknown=1",
    "/v1/cases/cs_nope",  # 404
    "/v1/cases/" + "c" * 41,  # 422: path parameter too long
    "/v1/breaches",
    "/v1/policies",
]


@pytest.fixture
def standard_solving() -> Iterator[None]:
    fastapi.routing.solve_dependencies = fast_solve._standard  # type: ignore[attr-defined]
    yield
    fast_solve.install()


def _answers(api: ApiWorld, urls: list[str], who: str | None) -> list[tuple[int, bytes]]:
    api.client.app.state.auth_limiter = FailedAuthLimiter()  # type: ignore[attr-defined]  # fresh count
    return [(r.status_code, r.content) for r in (api.get(url, who=who) for url in urls)]


def test_every_answer_is_the_same_bytes_as_fastapis_solving(
    api: ApiWorld, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = api.open_case()
    api.open_case()
    urls = [*REQUESTS, f"/v1/cases/{first['id']}"]
    assert fastapi.routing.solve_dependencies is fast_solve.solve_dependencies  # type: ignore[attr-defined]
    fallbacks: list[str] = []
    fastapis = fast_solve._standard

    async def counted(**kwargs: Any) -> Any:
        fallbacks.append(str(kwargs["request"].url))
        return await fastapis(**kwargs)

    monkeypatch.setattr(fast_solve, "_standard", counted)
    fast = {who: _answers(api, urls, who) for who in ("agent", "auditor", None, "revoked")}
    monkeypatch.setattr(fast_solve, "_standard", fastapis)
    # Only the six requests with an invalid parameter went to FastAPI's solving, for each caller.
    assert len(fallbacks) == 6 * 4, fallbacks
    request.getfixturevalue("standard_solving")
    assert fastapi.routing.solve_dependencies is fast_solve._standard  # type: ignore[attr-defined]
    standard = {who: _answers(api, urls, who) for who in ("agent", "auditor", None, "revoked")}
    assert fast == standard
    statuses = [status for status, _ in fast["agent"]]
    assert statuses.count(422) >= 6 and 200 in statuses and 404 in statuses  # both paths were taken
    # Without a key: 401 before any parameter is looked at (but an unknown one, refused first).
    assert {status for status, _ in fast[None]} == {401, 422}
    assert [status for status, _ in fast[None]].count(422) == 1


BODIES: list[tuple[str, dict[str, str], Any]] = [
    ("/v1/cases", {}, {"incident_type": "account_compromised", "attributes": CREATOR}),
    (
        "/v1/cases",
        {"Idempotency-Key": "key-{round}"},
        {"incident_type": "account_compromised", "attributes": CREATOR},
    ),
    ("/v1/cases", {"Idempotency-Key": " bad key "}, {"incident_type": "account_compromised"}),  # 422
    ("/v1/cases", {}, {"incident_type": 3}),  # 422
    ("/v1/cases", {}, {"attributes": CREATOR}),  # 422: no incident type nor policy
    ("/v1/cases", {}, "not an object"),  # 422
    ("/v1/cases", {}, {"incident_type": "no-such-type", "attributes": CREATOR}),  # 422 from the service
    ("/v1/cases/{id}/actions", {}, {"action": "note", "text": "hello"}),
    ("/v1/cases/{id}/actions", {"If-Match": '"1"'}, {"action": "acknowledge"}),  # 412: moved on
    ("/v1/cases/{id}/actions", {}, {"action": "fly"}),  # 422
    ("/v1/cases/{id}/actions", {}, {"text": "no action"}),  # 422
]


def _posted(api: ApiWorld, case_id: str, round: str) -> list[tuple[int, Any]]:
    """Each answer's status, and its body where it does not name a new case or version."""
    answers = []
    for url, headers, body in BODIES:
        sent = {name: value.format(round=round) for name, value in headers.items()}
        response = api.post(url.format(id=case_id), json=body, headers=sent)
        shown: Any = json.loads(response.text.replace(case_id, "{id}"))  # each round: its own case
        if response.status_code < 400:
            shown = sorted(shown)  # a new case or version: its fields
        elif response.status_code == 412:
            shown = {**shown, "detail": None}  # names the versions
        answers.append((response.status_code, shown))
    return answers


def test_bodies_and_headers_are_read_as_fastapi_reads_them(
    api: ApiWorld, request: pytest.FixtureRequest
) -> None:
    fast = _posted(api, api.open_case()["id"], "fast")
    request.getfixturevalue("standard_solving")
    standard = _posted(api, api.open_case()["id"], "standard")
    assert fast == standard
    assert [status for status, _ in fast] == [201, 201, 422, 422, 422, 422, 422, 200, 412, 422, 422]


def _routes(app: Any) -> dict[tuple[str, str], APIRoute]:
    """Every route by (full path, method), whether the app lists them flat or by router."""
    found = {}
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        pairs = [(c.path, c.original_route) for c in contexts()] if contexts else [(route.path, route)]
        for path, original in pairs:
            if isinstance(original, APIRoute):
                found.update({(path, method): original for method in original.methods or ()})
    return found


def test_the_case_routes_are_planned(api: ApiWorld) -> None:
    routes = _routes(api.client.app)
    assert fast_solve.plan(routes[("/v1/cases", "GET")].dependant) is not None
    assert fast_solve.plan(routes[("/v1/cases/{case_id}", "GET")].dependant) is not None
    assert fast_solve.plan(routes[("/v1/cases", "POST")].dependant) is not None  # a body and a header
    assert fast_solve.plan(routes[("/v1/cases/{case_id}/actions", "POST")].dependant) is not None
