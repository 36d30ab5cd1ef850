"""/docs (Swagger UI) and /redoc (ReDoc) served entirely by Lifeline: they render with no network.

The viewers' JavaScript and CSS come from the ``fastapi-offline`` package (installed from the
package index, pinned in constraints.txt), mounted at ``/docs/assets``; the few lines that start
each viewer are files of ours under ``api/docs_static`` (``/docs/init``), so the pages need no inline
script. Their Content-Security-Policy allows inline *styles* (ReDoc's styled components inject
them) and ``blob:`` workers (ReDoc's search), never inline scripts or another origin.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
INIT_DIR = Path(__file__).parent / "docs_static"

DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'; form-action 'self'"
)
HEADERS = {"Content-Security-Policy": DOCS_CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}

SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="icon" href="/docs/assets/favicon.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init/swagger-init.js"></script>
</body>
</html>
"""

REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="/docs/assets/favicon.png">
</head>
<body>
<div id="redoc"></div>
<script src="/docs/assets/redoc.standalone.js"></script>
<script src="/docs/init/redoc-init.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Serve /docs and /redoc; build ``app`` with ``docs_url=None, redoc_url=None``."""
    app.mount("/docs/assets", StaticFiles(directory=str(ASSETS_DIR)), name="docs-assets")
    app.mount("/docs/init", StaticFiles(directory=str(INIT_DIR)), name="docs-init")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(SWAGGER_PAGE.format(title=app.title), headers=HEADERS)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(REDOC_PAGE.format(title=app.title), headers=HEADERS)
