"""The app's routes as one flat table of (pattern, template, methods), for the two places that ask
"which route is this path?" outside the router: metric labels and the ``Allow`` of a 405.

FastAPI 0.150 keeps included routers as nested entries (``effective_route_contexts`` lists their
routes with full paths); older versions list every route at the top. Both are read here. Templates
with fewer parameters come first, so ``/v1/policies/validate`` is not taken for
``/v1/policies/{policy_id}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.routing import compile_path


@dataclass(frozen=True)
class RouteEntry:
    pattern: re.Pattern[str]
    template: str
    methods: frozenset[str]


def _entries(route: Any) -> list[RouteEntry]:
    contexts = getattr(route, "effective_route_contexts", None)
    if contexts is not None:
        return [
            RouteEntry(
                compile_path(c.path)[0], c.path, frozenset(getattr(c.original_route, "methods", ()) or ())
            )
            for c in contexts()
            if c.path
        ]
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    pattern = getattr(route, "path_regex", None)
    if not template or pattern is None:
        return []
    return [RouteEntry(pattern, template, _methods(route))]


def _methods(route: Any) -> frozenset[str]:
    return frozenset(getattr(route, "methods", None) or ())


def route_table(app: Any) -> list[RouteEntry]:
    """The table of ``app`` (built once per app, kept on ``app.state``)."""
    table: list[RouteEntry] | None = getattr(app.state, "route_table", None)
    if table is None:
        table = [entry for route in app.router.routes for entry in _entries(route)]
        table.sort(key=lambda e: e.template.count("{"))
        app.state.route_table = table
    return table


def template_of(app: Any, path: str) -> str | None:
    """The template of the first route whose path matches (whatever the method)."""
    return next((e.template for e in route_table(app) if e.pattern.match(path)), None)


def methods_for(app: Any, path: str) -> list[str]:
    """The methods of the resource ``path`` names, sorted: those of every route with the template
    that matches it first (as the document lists them: ``/v1/policies/validate`` is POST only,
    though a GET there reaches ``/v1/policies/{policy_id}``)."""
    template = template_of(app, path)
    return sorted({m for e in route_table(app) if e.template == template for m in e.methods})
