"""Who may call what: every route x every role, no key, and a revoked key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from api.rate_limit import FailedAuthLimiter
from tests.api.conftest import ApiWorld
from tests.casework.builders import CREATOR

ALL = frozenset({"admin", "agent", "auditor"})
PUBLIC = "public"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    allowed: frozenset[str] | str
    ok: int = 200
    body: Any = None


SIMULATION = {"case": {"opened_at": "2026-03-02T09:00:00Z", "attributes": CREATOR}, "actions": []}
ROUTES = [
    Route("GET", "/v1/cases", ALL),
    Route("POST", "/v1/cases", frozenset({"agent"}), 201, {"incident_type": "account_compromised"}),
    Route("GET", "/v1/cases/{case_id}", ALL),
    Route("POST", "/v1/cases/{case_id}/actions", frozenset({"agent"}), 200, {"action": "note", "text": "hi"}),
    Route("GET", "/v1/cases/{case_id}/events", ALL),
    Route(
        "POST",
        "/v1/cases/{case_id}/children",
        frozenset({"agent"}),
        201,
        {"incident_type": "account_compromised"},
    ),
    Route(
        "POST",
        "/v1/cases/{case_id}/links",
        frozenset({"agent"}),
        422,
        {"kind": "related", "case_id": "cs_none"},
    ),
    Route("DELETE", "/v1/cases/{case_id}/links/{other_case_id}", frozenset({"agent"}), 404),
    Route("GET", "/v1/creators/{creator_id}/cases", ALL),
    Route("GET", "/v1/agents", ALL),
    Route("GET", "/v1/queues", ALL),
    Route(
        "POST",
        "/v1/cases/bulk-actions",
        frozenset({"agent"}),
        200,
        {"action": {"action": "note", "text": "hi"}, "cases": [{"id": "cs_none", "version": 1}]},
    ),
    Route("POST", "/v1/cases/{case_id}/creator-link", frozenset({"agent"})),
    Route("GET", "/v1/breaches", ALL),
    Route("GET", "/v1/reports/compliance", frozenset({"admin", "auditor"})),
    Route("GET", "/v1/audit/export", frozenset({"admin", "auditor"})),
    Route("GET", "/v1/audit/verify", frozenset({"admin", "auditor"})),
    Route("POST", "/v1/audit/verify", frozenset({"admin", "auditor"}), 422, {"body": "{}", "signature": ""}),
    Route("GET", "/v1/policies", ALL),
    Route("GET", "/v1/policies/{policy_id}", ALL),
    Route("POST", "/v1/policies/validate", frozenset({"admin"}), 422, {"id": "x"}),
    Route("POST", "/v1/policies/{policy_id}/simulate", frozenset({"admin", "agent"}), 200, SIMULATION),
    Route(
        "POST",
        "/v1/policies/{policy_id}/migrations",
        frozenset({"admin"}),
        200,
        {"to": 1, "mode": "rebase", "dry_run": True},
    ),
    Route("POST", "/v1/notifications/redeliver", frozenset({"admin"}), 200, {}),
    # Last: once retired, the policy opens no case.
    Route("POST", "/v1/policies/{policy_id}/retire", frozenset({"admin"})),
    Route("GET", "/healthz", PUBLIC),
    Route("GET", "/metrics", PUBLIC),
]
CALLERS = ["admin", "agent", "auditor", None, "revoked"]


def test_the_matrix_covers_every_route_of_the_app(api: ApiWorld) -> None:
    paths = api.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    app_routes = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert app_routes == {(r.method, r.path) for r in ROUTES}


def _expected(route: Route, caller: str | None) -> int:
    if route.allowed == PUBLIC:
        return route.ok
    if caller is None or caller == "revoked":
        return 401
    return route.ok if caller in route.allowed else 403


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "no-key")
def test_every_route_answers_each_caller_as_its_role_allows(api: ApiWorld, caller: str | None) -> None:
    case_id = api.open_case()["id"]
    for route in ROUTES:
        # More protected routes than the failed-auth limit allows a minute (tested in its own file):
        # each route starts with a fresh limiter so a no-key or revoked caller is 401, not 429.
        api.client.app.state.auth_limiter = FailedAuthLimiter()  # type: ignore[attr-defined]
        url = route.path.format(
            case_id=case_id, policy_id="test-policy", other_case_id="cs_none", creator_id="cr_1"
        )
        response = api.client.request(route.method, url, json=route.body, headers=api.auth(caller))
        assert response.status_code == _expected(route, caller), (route, caller, response.text)
        if response.status_code in (401, 403):
            assert response.headers["content-type"] == "application/problem+json"
        if response.status_code == 401:
            assert response.headers["WWW-Authenticate"] == "Bearer"


def test_events_name_the_key_that_acted(api: ApiWorld) -> None:
    case_id = api.open_case()["id"]
    api.act(case_id, "note", text="on it")

    events = api.get(f"/v1/cases/{case_id}/events").json()["items"]

    assert {e["actor"] for e in events if e["kind"] in ("opened", "note_added")} == {"agent:agent-1"}


def test_a_malformed_authorization_header_is_401(api: ApiWorld) -> None:
    for header in ("Basic abc", "Bearer", "Bearer ll_not-a-key", "token"):
        response = api.client.get("/v1/cases", headers={"Authorization": header})
        assert response.status_code == 401, header
