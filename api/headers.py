"""Headers every response gets, and absolute URLs built from ``LIFELINE_PUBLIC_URL``.

A request's ``Host`` header is the client's to choose: a link built from it (``Location``, a page's
``next``, a redirect) could send the next request elsewhere. Absolute URLs are therefore built on
the configured public base (casework.settings ``public_url``, default ``http://127.0.0.1:8000``),
and ``ResponseHeaders`` rewrites any absolute ``Location`` that still names the request's own
host (Starlette's trailing-slash redirect builds one from ``Host``).

Every response also gets ``X-Content-Type-Options: nosniff`` (HTML pages get their policy from
console.web).
"""

from __future__ import annotations

from starlette.datastructures import URL, Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casework.settings import get_settings

ALWAYS = {"x-content-type-options": "nosniff"}


def public_base() -> str:
    """The public base URL without a trailing slash."""
    return get_settings().public_url.rstrip("/")


def public_url(url: URL | str) -> str:
    """``url``'s path and query on the public base (its scheme and host are dropped)."""
    parsed = URL(str(url))
    query = f"?{parsed.query}" if parsed.query else ""
    return f"{public_base()}{parsed.path}{query}"


class ResponseHeaders:
    """Adds ALWAYS to every HTTP response and moves a self-referring ``Location`` to the public base."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                location = headers.get("location")
                if location and URL(location).netloc and URL(location).netloc == host:
                    headers["location"] = public_url(location)
            await send(message)

        await self.app(scope, receive, send_with_headers)
