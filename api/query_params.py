"""Unknown query parameters are refused: ``GET /v1/cases?stauts=open`` is a 422 naming ``stauts``,
not the whole list as if unfiltered. Installed on the app for every ``/v1/`` route; each route's
known names are its declared query parameters (its dependencies' too), read once per route."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.problems import validation_problem

_KNOWN: dict[int, frozenset[str]] = {}


def _known(route: APIRoute) -> frozenset[str]:
    known = _KNOWN.get(id(route))
    if known is None:
        known = _KNOWN[id(route)] = frozenset(_query_names(route.dependant))
    return known


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters of ``dependant`` and of every dependency under it."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def reject_unknown_query_parameters(request: Request) -> None:
    """422 naming every query parameter the route does not declare (async: no thread-pool hop)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.path.startswith("/v1/") or not request.query_params:
        return
    known = _known(route)
    unknown = [name for name in dict.fromkeys(request.query_params.keys()) if name not in known]
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise validation_problem(
            [
                {"parameter": name, "in": "query", "message": f"unknown query parameter; known: {allowed}"}
                for name in unknown
            ],
            f"unknown query parameter(s) {', '.join(unknown)}; this route knows: {allowed}",
        )
