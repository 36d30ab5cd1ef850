"""The OpenAPI document with every problem answer documented: each operation lists the 4xx it can
give (400, 401, 403, 404, 409, 412, 413, 422, 429 as they apply) as ``application/problem+json``
with one shared ``Problem`` schema, so clients and schemathesis check error bodies too."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details (docs/api.md lists the types)",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "/problems/<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "pointer": {"type": "string", "description": "JSON pointer into the body"},
                    "parameter": {"type": "string", "description": "A query, path or header parameter"},
                    "in": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["message"],
            },
        },
    },
    "additionalProperties": True,
}

EVERY_OPERATION = {
    400: "Malformed JSON, or a header with bad syntax",
    404: "No such resource",
    413: "Request body too large",
    422: "Invalid input; `errors` lists JSON pointers (body) or parameters (query, path, header)",
}
AUTHENTICATED = {
    401: "No key, or an unknown or revoked key",
    403: "The key's role may not use this route",
    429: "Too many failed authentications from this address; see Retry-After",
}
WRITES = {409: "A conflicting or concurrent change; the detail says which"}
CONDITIONAL = {412: "If-Match does not match the current version: the body has it"}


def _problem_content() -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _without_null(parameter: dict[str, Any]) -> None:
    """An optional parameter is absent, never JSON null (a header or query value is text): its schema
    loses the ``{"type": "null"}`` branch FastAPI gives ``X | None``."""
    schema = parameter.get("schema", {})
    branches = schema.get("anyOf")
    if isinstance(branches, list) and {"type": "null"} in branches:
        rest = [b for b in branches if b != {"type": "null"}]
        del schema["anyOf"]
        if len(rest) == 1:
            schema.update(rest[0])
        else:
            schema["anyOf"] = rest


def _document(operation: dict[str, Any], method: str) -> None:
    for parameter in operation.get("parameters", []):
        _without_null(parameter)
    codes = dict(EVERY_OPERATION)
    if operation.get("security"):
        codes.update(AUTHENTICATED)
    if method == "post":
        codes.update(WRITES)
    if any(p.get("name") == "If-Match" for p in operation.get("parameters", [])):
        codes.update(CONDITIONAL)
    responses = operation.setdefault("responses", {})
    for code, description in codes.items():
        entry = responses.setdefault(str(code), {"description": description})
        entry["content"] = _problem_content()
    for code, entry in responses.items():
        if code.startswith(("4", "5")) and code not in ("503",):
            entry["content"] = _problem_content()


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the documented-problems version (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
            for operations in schema.get("paths", {}).values():
                for method, operation in operations.items():
                    _document(operation, method)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
