"""Bearer-key authentication and role checks; ``api.deps`` declares the dependencies routes use.

Roles (docs/api.md has the table): ``admin`` writes policies and keys and may read everything;
``agent`` opens and works cases and reads policies; ``auditor`` only reads (cases, events, breaches,
policies, reports, audit). A missing, unknown or revoked key is 401; a valid key whose role may not
use the route is 403. The key's holder is the actor of the events it causes (``agent:<name>``).

The dependencies are ``async`` so that a request does not hop to the thread pool once per
dependency; only a key missing from ``api_keys.KEY_CACHE`` is looked up, in the thread pool. A key
revoked by another process (``lifeline keys revoke``) may keep working here for up to
``api_keys.KEY_CACHE_SECONDS``; one revoked in this process is refused at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from api.problems import Problem
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


async def authenticate(engine: Engine, credentials: HTTPAuthorizationCredentials | None) -> KeyHolder:
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
        holder = await authenticate(request.app.state.engine, await super().__call__(request))
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
