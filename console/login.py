"""Sign-in and sign-out pages (/console/login, /console/logout) and one-time sign-in links.

A wrong key shows the form again with one neutral message (nothing says whether the key was unknown,
revoked or mistyped); after ``auth.MAX_FAILURES`` failures in a minute from one address the form
answers 429 with ``Retry-After`` until the window has room again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from casework import api_keys
from console import auth
from console.auth import ConsoleUser
from console.pages import render
from models.db import session_scope
from models.kinds import Role

router = APIRouter(prefix="/console", include_in_schema=False)

WRONG_KEY = "That key was not accepted. Check it and try again."
LINK_REFUSED = "That sign-in link was already used or has expired. Sign in with your key."

HOME_BY_ROLE = {Role.AGENT: "/console/queue", Role.ADMIN: "/console/queue", Role.AUDITOR: "/console/breaches"}


def login_page(
    request: Request, error: str | None = None, status_code: int = 200, next_path: str | None = None
) -> Response:
    sessions = auth.sessions_of(request)
    token = sessions.login_form_token()
    context = {"title": "Sign in", "error": error, "login_csrf": token, "next": auth.safe_next(next_path)}
    response = render(request, "console/login.html", None, context, status_code)
    response.set_cookie(
        auth.LOGIN_CSRF_COOKIE,
        token,
        max_age=auth.SESSION_SECONDS,
        path="/console/login",
        httponly=True,
        samesite="strict",
        secure=auth.is_https(request),
    )
    return response


@router.get("/")
def home(request: Request) -> Response:
    user = auth.signed_in_user(request)
    if user is None:
        return RedirectResponse("/console/login", status_code=303)
    return RedirectResponse(HOME_BY_ROLE[user.role], status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query's name
    user = auth.signed_in_user(request)
    if user is not None:
        return RedirectResponse(auth.safe_next(next) if next else HOME_BY_ROLE[user.role], status_code=303)
    return login_page(request, next_path=next)


@router.post("/login")
def login(
    request: Request,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=500)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",  # noqa: A002 - the form field's name
) -> Response:
    sessions, now, address = auth.sessions_of(request), auth.now_of(request), auth.client_address(request)
    wait = sessions.failures.retry_after(address, now)
    if wait is not None:
        message = f"Too many failed sign-ins from your address. Try again in {wait} seconds."
        response = login_page(request, message, 429, next)
        response.headers["Retry-After"] = str(wait)
        return response
    if not sessions.login_form_ok(request.cookies.get(auth.LOGIN_CSRF_COOKIE), csrf):
        return login_page(request, "The sign-in form had expired. Please sign in again.", 400, next)
    with session_scope(request.app.state.engine, write=False) as session:
        holder = api_keys.authenticate(session, key.strip())
    if holder is None:
        sessions.failures.record_failure(address, now)
        return login_page(request, WRONG_KEY, 401, next)
    response = RedirectResponse(auth.safe_next(next) if next else HOME_BY_ROLE[holder.role], status_code=303)
    auth.start_session(request, response, holder.id)
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@router.get("/login/link/{token}")
def login_link(request: Request, token: str) -> Response:
    """A one-time link (``lifeline serve --demo`` prints one for the demo agent)."""
    key_id = auth.sessions_of(request).redeem_link(token)
    holder = None
    if key_id is not None:
        with session_scope(request.app.state.engine, write=False) as session:
            holder = api_keys.holder_by_id(session, key_id)
    if holder is None:
        return login_page(request, LINK_REFUSED, 400)
    response = RedirectResponse(HOME_BY_ROLE[holder.role], status_code=303)
    auth.start_session(request, response, holder.id)
    return response


@router.post("/logout")
def logout(
    request: Request,
    user: Annotated[ConsoleUser, Depends(auth.require(*auth.ALL_ROLES))],
    csrf: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    auth.check_csrf(request, user, csrf)
    auth.sign_out(request, user)
    response = RedirectResponse("/console/login", status_code=303)
    auth.end_session(response)
    return response


def login_link_path(app_state: object, key_id: int) -> str:
    """The path of a one-time sign-in link for key ``key_id`` on the app whose ``state`` is given."""
    sessions: auth.Sessions = app_state.console_sessions  # type: ignore[attr-defined]
    return f"/console/login/link/{sessions.login_link_token(key_id)}"


#: Included last (console.app.install): any other GET under /console/ is the console's own 404 page,
#: not the API's problem+json.
not_found_router = APIRouter(prefix="/console", include_in_schema=False)


@not_found_router.get("/{rest:path}")
def not_found(request: Request, rest: str) -> Response:
    user = auth.signed_in_user(request)
    context = {"title": "Not found", "message": f"There is no console page /console/{rest}."}
    return render(request, "console/error.html", user, context, 404)
