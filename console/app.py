"""Mounts the server-rendered pages on an app built by ``api.app.create_app``.

``lifeline serve`` (and every test of a page) calls ``install(app)``: static files, the HTML
security headers, the console's sessions, then each page router. A new page module adds its router
to ``ROUTERS``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from console import (
    audit_page,
    auth,
    breaches_page,
    case_page,
    creator_pages,
    intake_pages,
    login,
    policies_page,
    queue,
    reports_page,
    web,
    workload_page,
)

ROUTERS: list[APIRouter] = [
    login.router,
    queue.router,
    workload_page.router,
    case_page.router,
    breaches_page.router,
    reports_page.router,
    audit_page.router,
    policies_page.router,
    creator_pages.router,
    intake_pages.router,
]


def install(app: FastAPI) -> FastAPI:
    web.install(app)
    auth.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(login.not_found_router)  # last: it answers every other GET under /console/
    return app
