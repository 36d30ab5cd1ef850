"""Reading JSON request bodies and instants in queries, strictly, and only after authentication.

``CheckedRoute`` (every API router's ``route_class``) parses a JSON body itself: NaN, Infinity and
numbers too large for a float (``1e999``) are refused with 422 naming the JSON pointer, as is
nesting deeper than ``MAX_BODY_DEPTH`` (case attributes have their own, smaller limit in
casework.cases.limits). A body that is not JSON at all is 400. Either answer is given only once the
route's dependencies (the key and its role) have passed: the parse failure is kept on the request
and the body stands in as ``UNPARSED``, which fails the route's body validation, and
api.problems answers with the kept problem. So a caller without a valid key gets 401 or 403, never
a hint about the body.

``Instant`` is the type of every datetime the API reads: ISO 8601 text with an offset (a plain
number is not a datetime), inside casework.cases.limits' range.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from api.problems import Problem, validation_problem
from casework.cases.limits import check_instant, check_json_value
from casework.errors import InputRejected

#: Deepest JSON accepted in any request body (policies and simulations included).
MAX_BODY_DEPTH = 64


class _Unparsed:
    """The stand-in body of a request whose JSON was refused (see the module docstring)."""

    def __repr__(self) -> str:
        return "<unparsed body>"


UNPARSED = _Unparsed()


def parse_body(raw: bytes) -> Any:
    """The JSON of ``raw``; Problem 400 if it is not JSON, 422 (with the pointer) if it holds a
    non-finite number or is nested deeper than MAX_BODY_DEPTH."""
    try:
        value = json.loads(raw)  # NaN and Infinity parse; the check refuses them
    except RecursionError:
        too_deep = f"nested deeper than {MAX_BODY_DEPTH} levels"
        raise validation_problem([{"pointer": "", "message": too_deep}]) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise Problem(
            400, "malformed-json", "Malformed JSON", f"the request body is not valid JSON: {err}"
        ) from None
    try:
        check_json_value(value, "", MAX_BODY_DEPTH)
    except InputRejected as err:
        raise validation_problem([{"pointer": err.pointer, "message": err.message}], str(err)) from None
    return value


class CheckedRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = parse_body(await self.body())
            except Problem as problem:
                self.state.body_problem = problem
                self._json = UNPARSED
        return self._json


def body_problem(request: Request) -> Problem | None:
    """The problem kept when the body's JSON was refused (None if it was accepted)."""
    problem: Problem | None = getattr(request.state, "body_problem", None)
    return problem


def require_parsed(value: Any, request: Request) -> Any:
    """``value`` unless it is UNPARSED: for routes whose body is ``Any`` (nothing fails then)."""
    if value is UNPARSED:
        problem = body_problem(request)
        raise (
            problem if problem is not None else Problem(400, "bad-request", "Bad request", "unreadable body")
        )
    return value


class CheckedRoute(APIRoute):
    """An APIRoute whose handler reads the body through CheckedRequest and refuses query parameters
    it does not know with 422 naming them (a misspelt filter must not silently list everything)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        known = frozenset(_query_names(self.dependant))

        async def checked_handler(request: Request) -> Response:
            unknown = sorted(set(request.query_params) - known)
            if unknown:
                raise _unknown_parameters(unknown, known)
            return await handler(CheckedRequest(request.scope, request.receive))

        return checked_handler


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _unknown_parameters(unknown: list[str], known: frozenset[str]) -> Problem:
    """422 naming the unknown parameters (at most 10, each cut to 50 characters: never an echo of
    a huge query)."""
    expected = ", ".join(sorted(known)) or "none"
    named = [name if len(name) <= 50 else name[:50] + "..." for name in unknown[:10]]
    return validation_problem(
        [
            {"parameter": name, "in": "query", "message": f"unknown parameter (expected: {expected})"}
            for name in named
        ],
        f"unknown query parameter(s) {', '.join(map(repr, named))}; this route takes: {expected}",
    )


def _not_a_number(value: Any) -> Any:
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        raise ValueError(
            "a datetime is ISO 8601 text with an offset (e.g. 2026-12-01T09:00:00Z), not a number"
        )
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _in_range(value: datetime) -> datetime:
    try:
        return check_instant(value, "")
    except InputRejected as err:
        raise ValueError(err.message) from None


#: Every datetime the API reads (bodies and queries).
Instant = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_in_range)]
