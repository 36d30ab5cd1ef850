"""The ASGI middleware that keeps every answer a problem: bodies over the limit are 413 before a
route reads them, and an exception that escapes every handler is a logged 500 problem (or, once a
stream has started, a dropped connection a client can detect). Installed by ``api.app.create_app``.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import Problem, http_problem, problem_response

log = logging.getLogger("lifeline.api")

INTERNAL = Problem(
    500,
    "internal-error",
    "Internal error",
    "the server could not answer this request; it has been logged. Retry later or report it",
)


class CatchAllMiddleware:
    """Answer any exception that escaped the routes and handlers with a 500 problem (logged with its
    traceback here, never sent; an oversized body read outside a route is answered 413). Once a
    response has started (a streamed export) the exception goes on to the server, which closes the
    connection before the body's end: a client detects the cut (no final chunk)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except BodyTooLarge as exc:
            if not started:
                await problem_response(http_problem(413, exc.detail), scope.get("path"))(scope, receive, send)
        except Exception:
            if started:
                # Too late for a problem: let the server drop the connection, so the client sees an
                # incomplete response (no final chunk), never a body that looks whole.
                raise
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            await problem_response(INTERNAL, scope.get("path"))(scope, receive, send)


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. An HTTPException, so FastAPI's
    body parsing lets it through (it turns other errors into 400) and ``on_http`` answers 413."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413: at once from Content-Length, or while
    reading a chunked body (the read stops at the limit, so a huge body never fills memory)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _message(self) -> str:
        return f"request bodies are limited to {self.limit} bytes ({self.limit // 1024} KiB)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.limit
            except ValueError:
                too_big = False
            if too_big:
                await problem_response(http_problem(413, self._message()), scope.get("path"))(
                    scope, receive, send
                )
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self._message())
            return message

        await self.app(scope, limited_receive, send)
