"""FastAPI's solving of a route's parameters, done directly for the routes where that gives the same
values, and left to FastAPI everywhere else.

FastAPI (0.150) solves every request's dependencies through generic machinery: for each declared
parameter, of each dependency, it asks again how to read it (alias, sequence or not, which source),
builds cache keys and a sub-response. For GET /v1/cases/{id} that was ~90 us of CPU a request (a
sixth of the route), for GET /v1/cases with its twelve query parameters ~175 us (bench/README.md).
Everything it asks depends only on the route's declaration, so ``install`` plans each route once
and then reads its path and query parameters and calls its dependencies directly, with the same
calls FastAPI makes (each field's own ``validate``, its default copied as FastAPI copies it).

A route is planned only when that is all it needs: path and query parameters (no single-model
parameter), headers and a body (these read by FastAPI's own functions: a route has one or two),
async dependencies that take nothing but the request; no cookies, background tasks, sub-response
or security scopes. Any request whose parameters do not all validate,
and any app with ``dependency_overrides``, goes through FastAPI's own solving, so every error (its
422 body, its order after authentication) is FastAPI's. The parameters are validated before the
dependencies run, so a fallback never runs a dependency twice; a dependency's exception (401, 403,
429) propagates as it does from FastAPI's solving. The OpenAPI document is untouched: it is built
from the same ``Dependant`` objects, which are only read.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import fastapi.routing as _fastapi_routing
from fastapi.dependencies import utils as _fastapi_utils
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import SolvedDependency
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

_standard: Callable[..., Any] = _fastapi_routing.solve_dependencies  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Param:
    """One path or query parameter: where FastAPI reads it and how it validates it."""

    name: str
    alias: str
    loc: tuple[str, str]
    many: bool  # a sequence: every value of a repeated query parameter
    field: Any  # FastAPI's ModelField
    required: bool
    default: Any
    validate_default: bool


@dataclass(frozen=True)
class _Plan:
    path: tuple[_Param, ...]
    query: tuple[_Param, ...]
    dependencies: tuple[tuple[str, Callable[[Request], Any]], ...]
    request_name: str | None
    headers: tuple[Any, ...]  # read by FastAPI's own function (one or two a route)
    body: tuple[Any, ...]  # likewise


_plans: dict[int, tuple[Dependant, _Plan | None]] = {}


def _param(field: Any, source: str) -> _Param:
    alias = _fastapi_utils.get_validation_alias(field)
    info = field.field_info
    many = source == "query" and not any(type(m).__name__ == "Json" for m in info.metadata)
    many = many and _fastapi_utils.field_annotation_is_sequence(info.annotation)  # type: ignore[attr-defined]
    return _Param(
        field.name,
        alias,
        (source, alias),
        many,
        field,
        info.is_required(),
        field.default,
        info.validate_default,
    )


def _takes_only_the_request(sub: Dependant) -> bool:
    call = sub.call
    is_async = inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)
    return (
        is_async
        and sub.name is not None
        and not sub.dependencies
        and not (sub.path_params or sub.query_params or sub.header_params)
        and not (sub.cookie_params or sub.body_params)
        and not (sub.background_tasks_param_name or sub.response_param_name)
        and not (sub.security_scopes_param_name or sub.websocket_param_name)
        and bool(sub.request_param_name) != bool(sub.http_connection_param_name)
    )


def plan(dependant: Dependant) -> _Plan | None:
    """How to solve ``dependant`` directly, or None when FastAPI must (see the module docstring)."""
    if dependant.cookie_params:
        return None
    if dependant.background_tasks_param_name or dependant.response_param_name:
        return None
    if dependant.security_scopes_param_name or dependant.websocket_param_name:
        return None
    if dependant.http_connection_param_name:
        return None
    if len(dependant.query_params) == 1 and _is_model(dependant.query_params[0].field_info.annotation):
        return None
    if not all(_takes_only_the_request(sub) for sub in dependant.dependencies):
        return None
    names = [sub.call for sub in dependant.dependencies]
    if len(set(map(id, names))) != len(names):  # one call twice: FastAPI's cache would share it
        return None
    return _Plan(
        tuple(_param(f, "path") for f in dependant.path_params),
        tuple(_param(f, "query") for f in dependant.query_params),
        tuple((str(sub.name), sub.call) for sub in dependant.dependencies),  # type: ignore[misc]
        dependant.request_param_name,
        tuple(dependant.header_params),
        tuple(dependant.body_params),
    )


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _planned(dependant: Dependant) -> _Plan | None:
    found = _plans.get(id(dependant))
    if found is None or found[0] is not dependant:
        found = _plans[id(dependant)] = (dependant, plan(dependant))
    return found[1]


def _read(params: tuple[_Param, ...], received: Any, values: dict[str, Any]) -> bool:
    """Validate ``params`` from ``received`` into ``values`` as FastAPI's ``request_params_to_args``
    does; False at the first error (FastAPI's solving then reports them all)."""
    for param in params:
        value = received.getlist(param.alias) if param.many else received.get(param.alias)
        if value is None or (param.many and len(value) == 0):
            if param.required:
                return False
            value = deepcopy(param.default)
            if not param.validate_default:
                values[param.name] = value
                continue
        validated, errors = param.field.validate(value, values, loc=param.loc)
        if errors:
            return False
        values[param.name] = validated
    return True


async def _fastapi_read(
    planned: _Plan, request: Request, values: dict[str, Any], kwargs: dict[str, Any]
) -> bool:
    """The headers and the body, read and validated by FastAPI's own functions (exactly its values
    for these, with their sources' subtleties); False on any error."""
    if planned.headers:
        found, errors = _fastapi_utils.request_params_to_args(list(planned.headers), request.headers)
        if errors:
            return False
        values.update(found)
    if planned.body:
        found, errors = await _fastapi_utils.request_body_to_args(
            body_fields=list(planned.body),
            received_body=kwargs.get("body"),
            embed_body_fields=kwargs["embed_body_fields"],
        )
        if errors:
            return False
        values.update(found)
    return True


async def solve_dependencies(*, request: Any, dependant: Dependant, **kwargs: Any) -> Any:
    """FastAPI's ``solve_dependencies``, directly where the route's plan allows."""
    provider = kwargs.get("dependency_overrides_provider")
    planned = (
        _planned(dependant)
        if kwargs.get("dependency_cache") is None
        and kwargs.get("response") is None
        and kwargs.get("background_tasks") is None
        and isinstance(request, Request)
        and not getattr(provider, "dependency_overrides", None)
        else None
    )
    if planned is None:
        return await _standard(request=request, dependant=dependant, **kwargs)
    values: dict[str, Any] = {}
    if not (
        _read(planned.path, request.path_params, values)
        and _read(planned.query, request.query_params, values)
        and await _fastapi_read(planned, request, values, kwargs)
    ):
        return await _standard(request=request, dependant=dependant, **kwargs)
    for name, call in planned.dependencies:
        values[name] = await call(request)
    if planned.request_name:
        values[planned.request_name] = request
    response = Response()
    del response.headers["content-length"]
    response.status_code = None  # type: ignore[assignment]  # as FastAPI's own sub-response
    return SolvedDependency(
        values=values, errors=[], background_tasks=None, response=response, dependency_cache={}
    )


def install() -> None:
    """Idempotent; called by ``api.app.create_app``."""
    _fastapi_routing.solve_dependencies = solve_dependencies  # type: ignore[attr-defined]
