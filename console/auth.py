"""Console sign-in: signed session cookies, CSRF tokens, role checks and the failed-login limit.

A session cookie holds the id of the API key that signed in, a CSRF token and a nonce, signed with
``LIFELINE_CONSOLE_SECRET`` (a random key per app when unset) and valid for ``SESSION_SECONDS``; never
the key itself. Every request looks the key up by id (cached for ``api_keys.KEY_CACHE_SECONDS``
in ``api_keys.KEY_CACHE``), so a revoked key ends its console sessions within that window, at once
when revoked in this process. The cookie is ``HttpOnly``, ``SameSite=Strict``, ``Secure`` over https.

Every form carries the session's CSRF token (the login form a token of its own, double-submitted in a
short-lived cookie). A POST whose role may not act, or whose token is wrong, is 403.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine

from casework import api_keys
from casework.api_keys import KeyHolder
from casework.console_sessions import console_session_ended, end_console_session
from casework.failed_attempts import FailedAttempts
from casework.settings import get_settings
from models.db import session_scope, short_read
from models.kinds import Role

SESSION_COOKIE = "lifeline_session"
LOGIN_CSRF_COOKIE = "lifeline_login_csrf"
SESSION_SECONDS = 8 * 3600
LOGIN_LINK_SECONDS = 15 * 60
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=1)

#: Who may work cases from the console (as the API's CASE_WRITERS) and who may open each area.
CASE_WORKERS = (Role.AGENT,)
QUEUE_READERS = (Role.AGENT, Role.ADMIN)
AUDIT_READERS = (Role.AUDITOR, Role.ADMIN)
ALL_ROLES = (Role.ADMIN, Role.AGENT, Role.AUDITOR)


class PageAnswer(Exception):  # noqa: N818 - an answer, not an error
    """Raised from a dependency or route to answer with ``response`` (a redirect to the sign-in
    page, a 403 page): the console's counterpart of the API's ``Problem``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass(frozen=True)
class SessionCookie:
    """What a valid session cookie says: whose key, the CSRF token, the session's nonce (what
    sign-out records) and when it expires."""

    key_id: int
    csrf: str
    nonce: str
    expires_at: datetime


@dataclass(frozen=True)
class ConsoleUser:
    """Who is signed in: the key's holder and the session cookie they signed in with."""

    holder: KeyHolder
    session: SessionCookie

    @property
    def csrf(self) -> str:
        """The session's CSRF token: every form of the console posts it back."""
        return self.session.csrf

    @property
    def role(self) -> Role:
        return self.holder.role

    @property
    def can_act(self) -> bool:
        return self.holder.role in CASE_WORKERS

    def may(self, roles: tuple[Role, ...]) -> bool:
        return self.holder.role in roles


class FailedLogins(FailedAttempts):
    """Failed sign-ins per client address (casework.failed_attempts, the API's limiter too)."""

    def __init__(self, limit: int = MAX_FAILURES, window: timedelta = FAILURE_WINDOW) -> None:
        super().__init__(limit, window)


class Sessions:
    """Signs and reads session cookies and one-time sign-in links for one app."""

    def __init__(self, secret: str) -> None:
        self._sessions = URLSafeTimedSerializer(secret, salt="lifeline-console-session")
        self._links = URLSafeTimedSerializer(secret, salt="lifeline-console-login-link")
        self._login_forms = URLSafeTimedSerializer(secret, salt="lifeline-console-login-form")
        self._used_links: set[str] = set()
        self._lock = threading.Lock()
        self.failures = FailedLogins()

    def session_value(self, key_id: int) -> str:
        return self._sessions.dumps({"k": key_id, "c": secrets.token_urlsafe(24), "n": secrets.token_hex(16)})

    def read_session(self, value: str) -> SessionCookie | None:
        try:
            data, signed_at = self._sessions.loads(value, max_age=SESSION_SECONDS, return_timestamp=True)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("k"), int):
            return None
        expires_at = signed_at + timedelta(seconds=SESSION_SECONDS)
        return SessionCookie(data["k"], str(data.get("c", "")), str(data.get("n", "")), expires_at)

    def login_link_token(self, key_id: int) -> str:
        return self._links.dumps({"k": key_id, "n": secrets.token_hex(16)})

    def redeem_link(self, token: str) -> int | None:
        """The key id of an unused, unexpired link token (then used up); None otherwise."""
        try:
            data = self._links.loads(token, max_age=LOGIN_LINK_SECONDS)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("k"), int):
            return None
        with self._lock:
            if data["n"] in self._used_links:
                return None
            self._used_links.add(data["n"])
        key_id: int = data["k"]
        return key_id

    def login_form_token(self) -> str:
        return self._login_forms.dumps(secrets.token_urlsafe(16))

    def login_form_ok(self, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field or not hmac.compare_digest(cookie, field):
            return False
        try:
            self._login_forms.loads(field, max_age=SESSION_SECONDS)
        except BadSignature:
            return False
        return True


def install(app: FastAPI) -> None:
    secret = get_settings().console_secret or secrets.token_urlsafe(32)
    app.state.console_sessions = Sessions(secret)

    async def on_page_answer(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageAnswer)
        return exc.response

    app.add_exception_handler(PageAnswer, on_page_answer)


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.console_sessions
    return sessions


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.clock()
    return now


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(request: Request, response: Response, key_id: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        sessions_of(request).session_value(key_id),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")


def _cache_key(cookie: SessionCookie) -> str:
    return f"console-session:{cookie.key_id}:{cookie.nonce}"


def _holder(engine: Engine, cookie: SessionCookie) -> KeyHolder | None:
    """The session's key holder unless the key is revoked or the session signed out, from the
    shared key cache when fresh (``revoke_key`` and sign-out clear it)."""
    database, cache_key = str(engine.url), _cache_key(cookie)
    holder = api_keys.KEY_CACHE.get(database, cache_key)
    if holder is None:
        with session_scope(engine, write=False) as session:
            if console_session_ended(session, cookie.nonce):
                return None
            holder = api_keys.holder_by_id(session, cookie.key_id)
        if holder is not None:
            api_keys.KEY_CACHE.put(database, cache_key, holder)
    return holder


def signed_in_user(request: Request) -> ConsoleUser | None:
    value = request.cookies.get(SESSION_COOKIE)
    cookie = sessions_of(request).read_session(value) if value else None
    if cookie is None:
        return None
    holder = _holder(request.app.state.engine, cookie)
    return None if holder is None else ConsoleUser(holder, cookie)


def sign_out(request: Request, user: ConsoleUser) -> None:
    """End ``user``'s session on the server: its cookie, or any copy of it, no longer signs in
    (in another process within ``api_keys.KEY_CACHE_SECONDS``)."""
    cookie = user.session
    engine: Engine = request.app.state.engine
    with session_scope(engine) as session:
        end_console_session(session, cookie.nonce, cookie.key_id, now_of(request), cookie.expires_at)
    api_keys.KEY_CACHE.forget(str(engine.url), _cache_key(cookie))


def to_login(request: Request) -> PageAnswer:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/console/login?next={_quote(target)}", status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        end_session(response)
    return PageAnswer(response)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (no open redirect)."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return "/console/"


def require(*roles: Role) -> Callable[[Request], Awaitable[ConsoleUser]]:
    """A dependency: the signed-in user if their role is one of ``roles``; else a redirect to the
    sign-in page (no session) or the 403 page. Async, its key look-up through ``short_read``: a sync
    dependency costs every page a hop to the thread pool and back, more than the look-up (a cache
    hit, or one indexed read every ``KEY_CACHE_SECONDS``)."""

    async def dependency(request: Request) -> ConsoleUser:
        user = await short_read(request.app.state.engine, signed_in_user, request)
        if user is None:
            raise to_login(request)
        if not user.may(roles):
            raise PageAnswer(forbidden_page(request, user, "Your role cannot open this page."))
        return user

    return dependency


def check_csrf(request: Request, user: ConsoleUser, token: str | None) -> None:
    if not token or not hmac.compare_digest(token, user.csrf):
        raise PageAnswer(
            forbidden_page(request, user, "The form was stale or not sent by this console: reload and retry.")
        )


def forbidden_page(request: Request, user: ConsoleUser | None, message: str) -> Response:
    from console.pages import render

    return render(request, "console/error.html", user, {"title": "Not allowed", "message": message}, 403)
