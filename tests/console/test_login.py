"""Signing in and out of the console: cookies, CSRF, wrong keys, the failure limit, revocation,
and what each role may open or post."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from casework import api_keys
from console.login import WRONG_KEY
from models.db import session_scope
from tests.console.conftest import ConsoleWorld, csrf_of


def _try_key(console: ConsoleWorld, key: str, client: TestClient | None = None) -> object:
    client = client or console.client
    form = client.get("/console/login")
    return client.post(
        "/console/login", data={"key": key, "csrf": csrf_of(form.text)}, follow_redirects=False
    )


def test_sign_in_sets_a_signed_strict_httponly_expiring_cookie(console: ConsoleWorld) -> None:
    response = console.sign_in("agent")
    assert response.headers["location"] == "/console/queue"
    cookie = response.headers["set-cookie"].split(", lifeline_login_csrf")[0]
    assert cookie.startswith("lifeline_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain http here
    assert console.keys["agent"] not in cookie
    page = console.page("/console/queue")
    assert page.status_code == 200
    assert "Signed in as <strong>agent-1</strong> (agent)" in page.text


def test_cookie_is_secure_over_https(console: ConsoleWorld) -> None:
    https = TestClient(console.client.app, base_url="https://testserver")
    response = console.sign_in("agent", https)
    assert "Secure" in response.headers["set-cookie"].split(", lifeline_login_csrf")[0]


def test_wrong_key_shows_the_form_again_with_a_neutral_error(console: ConsoleWorld) -> None:
    for key in ("ll_not-a-key", console.keys["revoked"], "nonsense"):
        response = _try_key(console, key)
        assert response.status_code == 401  # type: ignore[attr-defined]
        assert WRONG_KEY in response.text  # type: ignore[attr-defined]
        assert "lifeline_session=" not in response.headers.get("set-cookie", "")  # type: ignore[attr-defined]
        assert 'name="key"' in response.text  # type: ignore[attr-defined]
    assert console.page("/console/queue").status_code == 303


def test_login_without_the_form_token_is_refused(console: ConsoleWorld) -> None:
    response = console.client.post("/console/login", data={"key": console.keys["agent"], "csrf": "forged"})
    assert response.status_code == 400
    assert "The sign-in form had expired" in response.text
    assert console.page("/console/queue").status_code == 303


def test_ten_failures_a_minute_then_429_until_the_window_moves(console: ConsoleWorld) -> None:
    for _ in range(10):
        assert _try_key(console, "ll_wrong").status_code == 401  # type: ignore[attr-defined]
    blocked = _try_key(console, console.keys["agent"])  # even the right key waits
    assert blocked.status_code == 429  # type: ignore[attr-defined]
    assert blocked.headers["retry-after"] == "60"  # type: ignore[attr-defined]
    assert "Too many failed sign-ins" in blocked.text  # type: ignore[attr-defined]
    console.clock.advance(seconds=59)
    assert _try_key(console, console.keys["agent"]).status_code == 429  # type: ignore[attr-defined]
    console.clock.advance(seconds=1)
    assert _try_key(console, console.keys["agent"]).status_code == 303  # type: ignore[attr-defined]


def test_signed_out_pages_redirect_to_sign_in_with_the_way_back(console: ConsoleWorld) -> None:
    response = console.page("/console/queue?priority=P1")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Fqueue%3Fpriority%3DP1"
    form = console.client.get(response.headers["location"])
    assert 'name="next" value="/console/queue?priority=P1"' in form.text
    signed = console.client.post(
        "/console/login",
        data={"key": console.keys["agent"], "csrf": csrf_of(form.text), "next": "/console/queue?priority=P1"},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/console/queue?priority=P1"


def test_sign_in_never_redirects_off_the_console(console: ConsoleWorld) -> None:
    form = console.client.get("/console/login")
    signed = console.client.post(
        "/console/login",
        data={"key": console.keys["agent"], "csrf": csrf_of(form.text), "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/console/"


def test_a_tampered_cookie_is_not_a_session(console: ConsoleWorld) -> None:
    console.sign_in("agent")
    value = console.client.cookies["lifeline_session"]
    console.client.cookies.set("lifeline_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert console.page("/console/queue").status_code == 303


def test_revoking_the_key_ends_its_sessions(console: ConsoleWorld) -> None:
    console.sign_in("agent")
    assert console.page("/console/queue").status_code == 200
    with session_scope(console.engine) as session:
        api_keys.revoke_key(session, "agent-1", console.clock.now)
    assert console.page("/console/queue").status_code == 303


def test_sign_out_needs_the_csrf_token_and_ends_the_session(console: ConsoleWorld) -> None:
    console.sign_in("agent")
    forged = console.client.post("/console/logout", data={"csrf": "guess"}, follow_redirects=False)
    assert forged.status_code == 403
    assert console.page("/console/queue").status_code == 200
    token = csrf_of(console.client.get("/console/queue").text)
    out = console.client.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert console.page("/console/queue").status_code == 303


def test_sign_out_ends_the_session_on_the_server_not_only_in_this_browser(console: ConsoleWorld) -> None:
    console.sign_in("agent")
    copied = console.client.cookies["lifeline_session"]
    other_browser = TestClient(console.client.app)
    console.sign_in("agent", other_browser)
    token = csrf_of(console.client.get("/console/queue").text)
    assert console.client.post("/console/logout", data={"csrf": token}).status_code == 200
    replayed = TestClient(console.client.app)
    replayed.cookies.set("lifeline_session", copied)
    assert replayed.get("/console/queue", follow_redirects=False).status_code == 303
    # another process has no cache entry to forget: it reads the ended session from the database
    api_keys.KEY_CACHE.clear()
    assert replayed.get("/console/queue", follow_redirects=False).status_code == 303
    # the same key's other session is untouched
    assert other_browser.get("/console/queue", follow_redirects=False).status_code == 200


def test_a_session_ended_twice_or_long_after_leaves_one_row_and_drops_expired_ones(
    console: ConsoleWorld,
) -> None:
    from sqlmodel import select

    from casework.console_sessions import end_console_session
    from models.session_tables import ConsoleSessionEnd

    now = console.clock.now
    with session_scope(console.engine) as session:
        end_console_session(session, "old", 1, now - timedelta(hours=9), now - timedelta(hours=1))
        end_console_session(session, "a", 1, now, now + timedelta(hours=8))
        end_console_session(session, "a", 1, now, now + timedelta(hours=8))
    with session_scope(console.engine, write=False) as session:
        assert [row.nonce for row in session.exec(select(ConsoleSessionEnd))] == ["a"]


def test_a_login_link_works_once(console: ConsoleWorld) -> None:
    from console.login import login_link_path

    with session_scope(console.engine, write=False) as session:
        key_id = next(k.id for k in api_keys.list_keys(session) if k.name == "agent-1")
    assert key_id is not None
    link = login_link_path(console.client.app.state, key_id)  # type: ignore[attr-defined]
    first = console.client.get(link, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/console/queue"
    assert console.page("/console/queue").status_code == 200
    console.client.cookies.clear()
    again = console.client.get(link, follow_redirects=False)
    assert again.status_code == 400 and "already used or has expired" in again.text


def test_auditor_cannot_open_the_queue_nor_post_an_action(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    console.sign_in("auditor")
    assert console.page("/console/").headers["location"] == "/console/breaches"
    assert console.page("/console/queue").status_code == 403
    page = console.page(f"/console/cases/{case_id}")
    assert page.status_code == 200
    assert '<form method="post" action="/console/cases/' not in page.text
    assert "only agents act on them" in page.text
    forged = console.client.post(
        f"/console/cases/{case_id}/actions",
        data={"csrf": csrf_of(page.text), "action": "acknowledge", "version": "1"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert "Your role cannot open this page." in forged.text
    assert 'id="case-status">open<' in console.page(f"/console/cases/{case_id}").text


def test_pages_carry_the_security_headers(console: ConsoleWorld) -> None:
    for url in ("/console/login",):
        headers = console.client.get(url).headers
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"


def test_an_unknown_console_page_is_a_page(console: ConsoleWorld) -> None:
    response = console.page("/console/nowhere?x=<b>")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is no console page /console/nowhere." in response.text
    assert console.client.get("/console/static/console.css").status_code == 200
