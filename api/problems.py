"""The one place that turns errors into RFC 9457 problem+json answers.

Every 4xx and 5xx the API sends has ``type``, ``title``, ``status`` and ``detail``; validation
errors add ``errors: [{pointer, message}]`` (JSON pointers into the request body; query, path and
header parameters are named by ``parameter`` instead). ``type`` is a relative URI,
``/problems/<slug>``, documented in docs/api.md. Domain errors from casework and the engine are
mapped here, and only here, so the routes just call services and let errors rise.

The catch-all (``api.middleware.CatchAllMiddleware``) logs any unexpected exception with its traceback on the
server and answers a bare 500 problem: no internals reach the client.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.route_table import methods_for
from casework.errors import (
    AmbiguousPolicy,
    BulkKeyReused,
    CaseNotFound,
    CaseworkError,
    DigestError,
    DuplicateTimedEvent,
    ForbiddenTransition,
    IdempotencyKeyReused,
    IdempotencyRace,
    InputRejected,
    InvalidAction,
    InvalidCursor,
    InvalidIdempotencyKey,
    LinkConflict,
    LinkNotFound,
    MigrationTargetInvalid,
    OpenChildren,
    PolicyNotRegistered,
    PolicyRetired,
    QueuesFileUnreadable,
    StaleVersion,
    StatusLinkNotFound,
    StoredPolicyUnreadable,
    TooManyCases,
    TooManyReplies,
    UnknownAgent,
    UnknownName,
    UnknownQueue,
)
from models.db import TransactionConflict
from sla_engine.kinds import ActionName
from sla_engine.simulation import SimulationInputError

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An answer the API chooses to give: raise it from a route or a dependency."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    return JSONResponse(
        problem.body(instance), status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


def validation_problem(
    errors: Sequence[Mapping[str, Any]], detail: str | None = None, **extra: Any
) -> Problem:
    first = errors[0] if errors else {}
    where = first.get("pointer", first.get("parameter", ""))
    return Problem(
        422,
        "validation-error",
        "Invalid request",
        detail or f"{len(errors)} invalid value(s); first at {where or '/'}: {first.get('message', '')}",
        errors=errors,
        **extra,
    )


# --- domain errors -> problems -------------------------------------------------------------------


def _stale(err: StaleVersion) -> Problem:
    return Problem(
        412,
        "stale-version",
        "The case changed",
        str(err),
        headers={"ETag": f'"{err.current_version}"'},
        current_version=err.current_version,
    )


def _forbidden(err: ForbiddenTransition) -> Problem:
    return Problem(
        409,
        "forbidden-transition",
        "Transition not allowed",
        str(err),
        action=str(err.action),
        from_status=str(err.from_status),
        to_status=None if err.to_status is None else str(err.to_status),
    )


def _invalid_action(err: InvalidAction) -> Problem:
    pointer = f"/{err.field}" if err.field else ""
    return validation_problem([{"pointer": pointer, "message": str(err)}], str(err))


def unknown_name_problem(err: UnknownName, under: str = "") -> Problem:
    """422 naming the argument (``under`` prefixes its pointer: ``/action`` in a bulk request) and
    listing every value it accepts as ``known_agents`` or ``known_queues``."""
    pointer = f"{under}/{err.field}"
    return validation_problem(
        [{"pointer": pointer, "message": str(err)}], str(err), **{f"known_{err.what}s": err.known}
    )


def _simulation_input(err: SimulationInputError) -> Problem:
    return validation_problem([{"pointer": err.pointer, "message": err.message}], str(err))


DOMAIN_ERRORS: dict[type[Exception], Callable[[Any], Problem]] = {
    CaseNotFound: lambda e: Problem(404, "not-found", "No such case", str(e)),
    StaleVersion: _stale,
    ForbiddenTransition: _forbidden,
    InvalidAction: _invalid_action,
    InputRejected: lambda e: validation_problem([{"pointer": e.pointer, "message": e.message}], str(e)),
    SimulationInputError: _simulation_input,
    PolicyNotRegistered: lambda e: Problem(404, "policy-not-registered", "Policy not registered", str(e)),
    PolicyRetired: lambda e: Problem(409, "policy-retired", "Policy retired", str(e), policy_id=e.policy_id),
    MigrationTargetInvalid: lambda e: validation_problem([{"pointer": e.pointer, "message": str(e)}], str(e)),
    AmbiguousPolicy: lambda e: validation_problem([{"pointer": "/policy_id", "message": str(e)}], str(e)),
    IdempotencyKeyReused: lambda e: Problem(
        422, "idempotency-key-reused", "Idempotency-Key reused", str(e), case_id=e.case_id
    ),
    InvalidIdempotencyKey: lambda e: validation_problem(
        [{"parameter": "Idempotency-Key", "message": str(e)}]
    ),
    IdempotencyRace: lambda _: Problem(
        409, "conflict", "Concurrent request", "a concurrent request used the same Idempotency-Key; retry"
    ),
    BulkKeyReused: lambda e: Problem(422, "idempotency-key-reused", "Idempotency-Key reused", str(e)),
    TooManyCases: lambda e: validation_problem([{"pointer": "/filter", "message": str(e)}], str(e)),
    InvalidCursor: lambda e: validation_problem([{"parameter": "cursor", "in": "query", "message": str(e)}]),
    OpenChildren: lambda e: Problem(
        409, "open-children", "Child cases are open", str(e), open_children=e.children
    ),
    LinkConflict: lambda e: Problem(409, "link-conflict", "Link not possible", str(e)),
    LinkNotFound: lambda e: Problem(404, "not-found", "No such link", str(e)),
    StatusLinkNotFound: lambda e: Problem(404, "not-found", "No such status link", str(e)),
    TooManyReplies: lambda e: Problem(
        429,
        "too-many-requests",
        "Too many replies",
        str(e),
        headers={"Retry-After": str(e.retry_after_seconds)},
    ),
    UnknownAgent: unknown_name_problem,
    UnknownQueue: unknown_name_problem,
    DigestError: lambda e: Problem(422, "invalid-digest", "Chain digest refused", str(e)),
    # The deployment's policies directory is at fault, not the request: a server error, named.
    StoredPolicyUnreadable: lambda e: Problem(
        500, "policy-unreadable", "A registered policy no longer loads", str(e)
    ),
    QueuesFileUnreadable: lambda e: Problem(
        500, "queues-file-unreadable", "The queues file does not load", str(e)
    ),
    DuplicateTimedEvent: lambda _: Problem(
        409, "conflict", "Concurrent change", "the escalation worker changed the case at the same time; retry"
    ),
    TransactionConflict: lambda e: Problem(
        409, "conflict", "Concurrent change", str(e), headers={"Retry-After": "1"}
    ),
}


def domain_problem(err: Exception) -> Problem | None:
    for cls in type(err).__mro__:
        mapper = DOMAIN_ERRORS.get(cls)
        if mapper is not None:
            return mapper(err)
    if isinstance(err, CaseworkError):
        return Problem(422, "unprocessable", "Request cannot be processed", str(err))
    return None


# --- request validation -> problems ---------------------------------------------------------------

_ACTION_TAGS = frozenset(a.value for a in ActionName)


def _escape(part: Any) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _pointer(loc: Sequence[Any]) -> str:
    """JSON pointer of a body location. Pydantic puts the chosen member of a tagged union in the
    path (``body, note, text``): the action name is dropped since it is a value, not a field."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _ACTION_TAGS:
        parts = parts[1:]
    return "".join(f"/{_escape(p)}" for p in parts)


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "union_tag_invalid":
        names = ", ".join(sorted(_ACTION_TAGS))
        return f"unknown action {error.get('input', {}).get('action')!r}; one of {names}"
    if error.get("type") == "union_tag_not_found":
        return "required: the action's name (e.g. acknowledge)"
    if error.get("type") == "timezone_aware":
        return "datetime without a UTC offset: add Z or an offset such as +01:00"
    return message


def request_validation_problem(exc: RequestValidationError) -> Problem:
    errors: list[dict[str, Any]] = []
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        where, rest = (loc[0], loc[1:]) if loc else ("body", [])
        if error.get("type") == "json_invalid":
            return Problem(
                400,
                "malformed-json",
                "Malformed JSON",
                f"the request body is not valid JSON: {error.get('ctx', {}).get('error', 'parse error')}",
            )
        if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
            tag = str(error.get("ctx", {}).get("discriminator", "")).strip("'\"")
            rest = [*rest, tag] if tag else rest
        if where == "body":
            errors.append({"pointer": _pointer(rest), "message": _message(error)})
        else:
            errors.append(
                {"parameter": ".".join(str(p) for p in rest), "in": where, "message": _message(error)}
            )
    return validation_problem(errors)


# --- handlers -------------------------------------------------------------------------------------

HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed for this role"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def http_problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Problem:
    slug, title = HTTP_TITLES.get(status, ("http-error", "HTTP error"))
    return Problem(status, slug, title, detail, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers and the catch-all on ``app``."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}; see /docs"
        if exc.status_code == 405:
            allowed = methods_for(request.app, request.url.path)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: {headers['Allow']}"
        return problem_response(http_problem(exc.status_code, detail, headers), request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # A body whose JSON was refused (api.bodies) fails validation as a stand-in: say why.
        kept: Problem | None = getattr(request.state, "body_problem", None)
        return problem_response(kept or request_validation_problem(exc), request.url.path)

    async def on_domain(request: Request, exc: Exception) -> Response:
        problem = domain_problem(exc)
        if problem is None:  # pragma: no cover - registered only for mapped classes
            raise exc
        return problem_response(problem, request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    for cls in (*DOMAIN_ERRORS, CaseworkError):
        app.add_exception_handler(cls, on_domain)
