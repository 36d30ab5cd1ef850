"""The console's web plumbing, shared by every server-rendered page (agents' console, creator pages).

``install(app)`` mounts the console's static files and adds the headers every HTML response carries.
The console is a layer beside ``api/``: it calls the same ``casework`` services and never the API's
routes. ``templates`` renders with autoescaping on, so every value from a case is shown as text.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
STATIC_PATH = "/console/static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
# Templates are compiled once and kept (the environment's cache); a deployed console does not
# look for edited template files on every render (restart after changing one).
templates.env.auto_reload = False

# No inline script or style anywhere: every script and stylesheet is a file under STATIC_PATH.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HTML_HEADERS: dict[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


class HtmlSecurityHeaders:
    """Adds HTML_HEADERS to every ``text/html`` response that does not set them itself (a page with a
    stricter policy, such as the creator's status page with ``no-referrer``, keeps its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.decode("latin-1").lower() for name, _ in headers}
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    for name, value in HTML_HEADERS.items():
                        if name not in present:
                            headers.append((name.encode("latin-1"), value.encode("latin-1")))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Mount the static files and the HTML headers on ``app``; page routers are included by their own
    modules' ``install``."""
    app.mount(STATIC_PATH, StaticFiles(directory=str(STATIC_DIR)), name="console-static")
    app.add_middleware(HtmlSecurityHeaders)
