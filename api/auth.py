"""Bearer-key authentication and role checks; ``api.deps`` declares the dependencies routes use.

Roles (docs/api.md has the table): ``admin`` writes policies and keys and may read everything;
``agent`` opens and works cases and reads policies; ``auditor`` only reads (cases, events, breaches,
policies, reports, audit). A missing, unknown or revoked key is 401; a valid key whose role may not
use the route is 403. Failed authentications are limited per client address (api.rate_limit: 429
with Retry-After past 20 a minute). The key's holder is the actor of the events it causes (``agent:<name>``).

The dependencies are ``async`` so that a request does not hop to the thread pool once per
dependency; only a key missing from ``api_keys.KEY_CACHE`` is looked up, in the thread pool. A key
revoked by another process (``lifeline keys revoke``) may keep working here for up to
``api_keys.KEY_CACHE_SECONDS``; one revoked in this process is refused at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.problems import Problem
from api.rate_limit import FailedAuthLimiter
from casework import api_keys
from casework.api_keys import KeyHolder
from models.db import session_scope
from models.kinds import Role

_BEARER_DESCRIPTION = "An API key from `lifeline keys create`."


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401, "unauthorized", "Authentication required", detail, headers={"WWW-Authenticate": "Bearer"}
    )


def _look_up(engine: Engine, secret: str) -> KeyHolder | None:
    with session_scope(engine, write=False) as session:
        return api_keys.authenticate(session, secret)


def _client_address(request: HTTPConnection) -> str:
    return request.client.host if request.client is not None else "unknown"


def _too_many(retry_after: int) -> Problem:
    return Problem(
        429,
        "too-many-failed-authentications",
        "Too many failed authentications",
        f"too many requests with a missing or wrong key from this address; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


async def authenticate(
    engine: Engine, credentials: HTTPAuthorizationCredentials | None, request: HTTPConnection | None = None
) -> KeyHolder:
    """The holder of the bearer key, else 401; with ``request``, failures count against the client
    address (api.rate_limit) and an address past the limit gets 429 before its key is looked at."""
    limiter: FailedAuthLimiter | None = None
    if request is not None:
        limiter = request.app.state.auth_limiter
        now: datetime = request.app.state.clock()
        address = _client_address(request)
        wait = limiter.retry_after(address, now)
        if wait is not None:
            raise _too_many(wait)
    try:
        return await _holder(engine, credentials)
    except Problem:
        if limiter is not None:
            limiter.record_failure(address, now)
        raise


async def _holder(engine: Engine, credentials: HTTPAuthorizationCredentials | None) -> KeyHolder:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _unauthorized("send 'Authorization: Bearer <key>' with a key from `lifeline keys create`")
    secret = credentials.credentials
    database = str(engine.url)
    holder = api_keys.KEY_CACHE.get(database, secret)
    if holder is None:
        holder = await run_in_threadpool(_look_up, engine, secret)
        if holder is None:
            raise _unauthorized("the API key is unknown or revoked")
        api_keys.KEY_CACHE.put(database, secret, holder)
    return holder


class _RoleCheck(HTTPBearer):
    """The bearer scheme (as /docs shows it) that also authenticates and admits only ``roles``: one
    dependency where a check depending on ``HTTPBearer`` was two, and FastAPI's solving costs per
    dependency on every request."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        super().__init__(auto_error=False, description=_BEARER_DESCRIPTION, scheme_name="HTTPBearer")
        self.roles = roles
        self.allowed = ", ".join(str(r) for r in roles)

    async def __call__(self, request: HTTPConnection) -> KeyHolder:  # type: ignore[override]
        holder = await authenticate(request.app.state.engine, await super().__call__(request), request)
        if holder.role not in self.roles:
            raise Problem(
                403,
                "forbidden",
                "Not allowed for this role",
                f"this route is for role(s) {self.allowed}; the key {holder.name!r} has role {holder.role}",
            )
        return holder


def require(*roles: Role) -> Callable[..., Awaitable[KeyHolder]]:
    """A dependency that authenticates and admits only ``roles``."""
    return _RoleCheck(roles)
