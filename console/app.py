"""Mounts the server-rendered pages on an app built by ``api.app.create_app``.

``lifeline serve`` (and every test of a page) calls ``install(app)``: static files, the HTML
security headers, then each page router. A new page module adds its router to ``ROUTERS``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from console import creator_pages, intake_pages, web

ROUTERS: list[APIRouter] = [creator_pages.router, intake_pages.router]


def install(app: FastAPI) -> FastAPI:
    web.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
