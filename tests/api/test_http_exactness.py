"""HTTP exactness and abuse limits (issue 17, items 4 and 5): entity tags, absolute URLs from
LIFELINE_PUBLIC_URL, auth before the body, Allow on 405, documented problems, metrics labels, failed
authentication rate limited, security headers, the metrics token."""

from __future__ import annotations

import pytest

from tests.api.conftest import ApiWorld

# --- If-Match -------------------------------------------------------------------------------------


@pytest.mark.parametrize("etag", ['"abc"', '"7"', 'W/"1"', '"0"', '"2", "3"', '"1x"', ""])
def test_a_well_formed_entity_tag_that_does_not_match_is_412(api: ApiWorld, etag: str) -> None:
    case = api.open_case()
    response = api.post(
        f"/v1/cases/{case['id']}/actions", json={"action": "acknowledge"}, headers={"If-Match": etag}
    )
    assert response.status_code == 412, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["ETag"] == '"1"'
    assert api.get(f"/v1/cases/{case['id']}").json()["version"] == 1


@pytest.mark.parametrize("etag", ['"1"', "*", '"5", "1"', ' "1" '])
def test_a_matching_entity_tag_or_star_is_accepted(api: ApiWorld, etag: str) -> None:
    case = api.open_case()
    response = api.post(
        f"/v1/cases/{case['id']}/actions", json={"action": "acknowledge"}, headers={"If-Match": etag}
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'


@pytest.mark.parametrize("etag", ["1", "soon", '"1', "W/1", '"1";'])
def test_an_entity_tag_with_bad_syntax_is_400(api: ApiWorld, etag: str) -> None:
    case = api.open_case()
    response = api.post(
        f"/v1/cases/{case['id']}/actions", json={"action": "acknowledge"}, headers={"If-Match": etag}
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["parameter"] == "If-Match"


# --- absolute URLs --------------------------------------------------------------------------------


def test_location_and_next_links_use_the_public_url_not_the_host_header(
    api: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    evil = {"Host": "evil.example"}
    opened = api.post("/v1/cases", json={"incident_type": "account_compromised"}, headers=evil)
    assert opened.status_code == 201, opened.text
    assert opened.headers["Location"] == f"http://127.0.0.1:8000/v1/cases/{opened.json()['id']}"
    api.open_case()
    page = api.get("/v1/cases?limit=1", headers=evil).json()
    assert page["next"].startswith("http://127.0.0.1:8000/v1/cases?")
    assert "limit=1" in page["next"] and "cursor=" in page["next"]
    api.act(opened.json()["id"], "note", text="two events at least")
    monkeypatch.setenv("LIFELINE_PUBLIC_URL", "https://lifeline.example.org/")
    events = api.get(f"/v1/cases/{opened.json()['id']}/events?limit=1", headers=evil).json()
    assert events["next"].startswith("https://lifeline.example.org/v1/cases/")


def test_a_redirect_never_echoes_the_host_header(api: ApiWorld) -> None:
    response = api.client.get(
        "/v1/cases/", headers={**api.auth("agent"), "Host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code == 307
    assert response.headers["Location"] == "http://127.0.0.1:8000/v1/cases"


# --- auth before the body -------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["{not json", '{"attributes": {"x": NaN}}', "[" * 5000])
def test_authentication_is_checked_before_the_body_is_parsed(api: ApiWorld, body: str) -> None:
    headers = {"Content-Type": "application/json"}
    assert api.post("/v1/cases", who=None, content=body, headers=headers).status_code == 401
    assert api.post("/v1/cases", who="revoked", content=body, headers=headers).status_code == 401
    assert api.post("/v1/cases", who="auditor", content=body, headers=headers).status_code == 403
    assert api.post("/v1/policies/validate", who="agent", content=body, headers=headers).status_code == 403
    expected = 400 if body == "{not json" else 422
    assert api.post("/v1/cases", who="agent", content=body, headers=headers).status_code == expected


# --- 405 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("DELETE", "/v1/cases", "GET, POST"),
        ("PUT", "/v1/cases/cs_1", "GET"),
        ("GET", "/v1/cases/cs_1/actions", "POST"),
        ("GET", "/v1/policies/account-compromised/simulate", "POST"),
    ],
)
def test_405_names_every_allowed_method(api: ApiWorld, method: str, url: str, allow: str) -> None:
    response = api.client.request(method, url, headers=api.auth("admin"))
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allow
    assert response.headers["content-type"] == "application/problem+json"


# --- OpenAPI --------------------------------------------------------------------------------------


def test_openapi_documents_every_problem_with_the_problem_schema(api: ApiWorld) -> None:
    document = api.get("/openapi.json", who=None).json()
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert document["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    act = document["paths"]["/v1/cases/{case_id}/actions"]["post"]["responses"]
    for code in ("400", "401", "403", "404", "409", "412", "413", "422", "429"):
        assert act[code]["content"] == problem, code
    listing = document["paths"]["/v1/cases"]["get"]["responses"]
    assert {"400", "401", "403", "404", "413", "422", "429"} <= set(listing)
    assert "412" not in listing


# --- metrics --------------------------------------------------------------------------------------


def test_metrics_label_each_request_with_its_route_template(api: ApiWorld) -> None:
    api.post("/v1/policies/validate", who="admin", json={"id": "x"})
    api.get("/openapi.json", who=None)
    api.get("/no/such/route")
    text = api.get("/metrics", who=None).text
    assert 'method="POST",route="/v1/policies/validate",status="422"' in text
    assert 'route="/v1/policies/{policy_id}"' not in text
    assert 'method="GET",route="/openapi.json",status="200"' in text
    assert 'method="GET",route="unmatched",status="404"' in text


def test_metrics_need_the_token_when_one_is_set(api: ApiWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFELINE_METRICS_TOKEN", "s3cret")
    refused = api.get("/metrics", who=None)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert api.get("/metrics", who=None, headers={"Authorization": "Bearer wrong"}).status_code == 401
    allowed = api.get("/metrics", who=None, headers={"Authorization": "Bearer s3cret"})
    assert allowed.status_code == 200
    assert "lifeline_http_requests_total" in allowed.text


# --- abuse ----------------------------------------------------------------------------------------


def test_failed_authentication_is_limited_per_address(api: ApiWorld) -> None:
    for attempt in range(20):
        wrong = {"Authorization": f"Bearer ll_guess{attempt}"}
        assert api.get("/v1/cases", who=None, headers=wrong).status_code == 401
    limited = api.get("/v1/cases", who=None, headers={"Authorization": "Bearer ll_guess21"})
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.headers["Retry-After"] == "60"
    # Past the limit even a good key from that address waits: a guesser learns nothing more.
    assert api.get("/v1/cases", who="agent").status_code == 429
    api.clock.advance(seconds=30)
    assert api.get("/v1/cases", who=None).headers["Retry-After"] == "30"
    api.clock.advance(seconds=30)
    assert api.get("/v1/cases", who="agent").status_code == 200


def test_successful_requests_never_count(api: ApiWorld) -> None:
    for _ in range(40):
        assert api.get("/v1/cases", who="agent").status_code == 200
    for _ in range(19):
        assert api.get("/v1/cases", who=None).status_code == 401
    assert api.get("/v1/cases", who="agent").status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "who"),
    [
        ("GET", "/healthz", None),
        ("GET", "/v1/cases", "agent"),
        ("GET", "/nowhere", None),
        ("POST", "/v1/cases", None),
    ],
)
def test_every_response_says_nosniff(api: ApiWorld, method: str, url: str, who: str | None) -> None:
    response = api.client.request(method, url, headers=api.auth(who))
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_window_slides(api: ApiWorld) -> None:
    for _ in range(10):
        api.get("/v1/cases", who=None)
    api.clock.advance(seconds=40)
    for _ in range(10):
        api.get("/v1/cases", who=None)
    assert api.get("/v1/cases", who=None).status_code == 429
    api.clock.advance(seconds=20, microseconds=1)
    assert api.get("/v1/cases", who=None).status_code == 401


# --- unknown query parameters ---------------------------------------------------------------------


def test_unknown_query_parameters_are_422_naming_them_without_echoing_them_whole(api: ApiWorld) -> None:
    response = api.get("/v1/breaches?sinse=2026-01-01T00:00:00Z", who="auditor")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["parameter"] == "sinse"
    huge = api.get("/v1/cases?" + "x" * 50_000 + "=1")
    assert huge.status_code == 422
    assert len(huge.content) < 2_000


# --- what uvicorn answers itself ------------------------------------------------------------------


def test_requests_uvicorn_refuses_are_answered_with_a_problem() -> None:
    """A malformed header and a header block over h11's 16 KiB never reach the app: `lifeline
    serve`'s protocol answers them as problem+json too."""
    import json
    import socket
    import threading
    import time

    import uvicorn
    from fastapi import FastAPI

    from cli.http_protocol import ProblemH11Protocol

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(FastAPI(), http=ProblemH11Protocol, log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        for request in (
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000,  # headers still unfinished at 16 KiB
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(request)
                answer = b""
                while chunk := client.recv(4096):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400 ")
            assert b"content-type: application/problem+json" in head
            assert json.loads(body)["status"] == 400
    finally:
        server.should_exit = True
        thread.join(timeout=10)
