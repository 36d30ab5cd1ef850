"""The benchmark's server entry point: Lifeline's API app with the console, plus the ceiling, under
uvicorn.

The ceiling (``/bench/ceiling?bytes=N``, GET or POST) is a bare FastAPI endpoint that returns an
N-byte JSON body held in memory, in the same process and event loop as the API but in an app of
its own, outside the API's middleware and database: the most any route of this server could do. The floors
(``/bench/floor/NAME``, bench/api_floors.py) answer the same way after sending a route's own SQL
statements, captured from one real request (``POST /bench/floor/NAME/capture``): the most that
route could do. Both are served here only, never by the product (``BenchServerApp``).

    python -m bench.api_server DATABASE_URL PORT
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import Body, FastAPI, Response
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from api.app import create_app
from bench.api_floors import Floor, capture, decoded
from console.app import install as install_console
from models.db import make_engine, short_read

_bodies: dict[int, bytes] = {}


def body_of(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least 12)."""
    if size not in _bodies:
        _bodies[size] = b'{"pad":"' + b"x" * max(0, size - 10) + b'"}'
    return _bodies[size]


#: The paths the bench's own app answers; every other path goes to Lifeline's app.
BENCH_PATHS = ("/bench/ceiling", "/bench/floor/")


class BenchServerApp:
    """The server's ASGI app: the ceiling and the bare floors go to a bare FastAPI app of their own,
    every other request (and the lifespan) straight to Lifeline's app, as ``lifeline serve`` serves
    it. So a route pays the product's stack and nothing more, the ceiling a bare app's. (Until
    2026-12-04 the API was mounted under the ceiling's app, and each route also paid that app's
    middleware, routing and mount, which ``lifeline serve`` does not have.)"""

    def __init__(self, api: FastAPI, bench: FastAPI) -> None:
        self.api = api
        self.bench = bench

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bare = scope["type"] == "http" and scope["path"].startswith(BENCH_PATHS)
        await (self.bench if bare else self.api)(scope, receive, send)


def server_app(database_url: str) -> BenchServerApp:
    engine = make_engine(database_url)
    api = install_console(create_app(engine))  # as `lifeline serve` does
    floors: dict[str, Floor] = {}
    bench = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @bench.get("/bench/ceiling")
    def ceiling_get(bytes: int = 100) -> Response:
        return Response(body_of(bytes), media_type="application/json")

    @bench.post("/bench/ceiling")
    def ceiling_post(bytes: int = 100) -> Response:
        return Response(body_of(bytes), media_type="application/json", status_code=201)

    @bench.post("/bench/floor/{name}/capture", status_code=204)
    async def capture_floor(name: str, request: dict[str, Any] = Body()) -> None:
        floors[name] = await capture(api, engine, request)

    floor_routes(bench, "/bench/floor", floors, engine)
    floor_routes(api, "/bench/api-floor", floors, engine)  # behind the API's middleware and router
    return BenchServerApp(api, bench)


def floor_routes(app: FastAPI, prefix: str, floors: dict[str, Floor], engine: Engine) -> None:
    """GET and POST ``{prefix}/{name}``: ``name``'s floor. As the routes run their statements: reads
    inline on SQLite (``short_read``), writes in a sync endpoint (the thread pool)."""

    @app.get(prefix + "/{name}", include_in_schema=False)
    async def floor_get(name: str, bytes: int = 100, decode: bool = False) -> Response:
        rows = await short_read(engine, floors[name].run, engine)
        if decode:
            decoded(rows)
        return Response(body_of(bytes), media_type="application/json")

    @app.post(prefix + "/{name}", include_in_schema=False)
    def floor_post(name: str, _body: dict[str, Any] = Body(), bytes: int = 100) -> Response:
        """The request's JSON is parsed (as any open must), then set aside."""
        floors[name].run(engine)
        return Response(body_of(bytes), media_type="application/json", status_code=201)


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    uvicorn.run(server_app(url), host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
