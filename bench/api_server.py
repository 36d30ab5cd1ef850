"""The benchmark's server entry point: Lifeline's API app with the console, plus the ceiling, under
uvicorn.

The ceiling (``/bench/ceiling?bytes=N``, GET or POST) is a bare FastAPI endpoint that returns an
N-byte JSON body held in memory, in the same process and event loop as the API but outside its
middleware and database: the most any route of this server could do. It is mounted here only,
never in the product app.

    python -m bench.api_server DATABASE_URL PORT
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Response

from api.app import create_app
from console.app import install as install_console
from models.db import make_engine

_bodies: dict[int, bytes] = {}


def body_of(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least 12)."""
    if size not in _bodies:
        _bodies[size] = b'{"pad":"' + b"x" * max(0, size - 10) + b'"}'
    return _bodies[size]


def server_app(database_url: str) -> FastAPI:
    api = install_console(create_app(make_engine(database_url)))  # as `lifeline serve` does

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with api.router.lifespan_context(api):  # a mounted app's lifespan is not run for it
            yield

    outer = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @outer.get("/bench/ceiling")
    def ceiling_get(bytes: int = 100) -> Response:
        return Response(body_of(bytes), media_type="application/json")

    @outer.post("/bench/ceiling")
    def ceiling_post(bytes: int = 100) -> Response:
        return Response(body_of(bytes), media_type="application/json", status_code=201)

    outer.mount("/", api)
    return outer


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(server_app(url), host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
