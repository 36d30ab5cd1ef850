"""/docs and /redoc render with no network: every script and stylesheet is served by Lifeline, the
pages carry a CSP without inline scripts, and in Chromium (every non-local request refused) Swagger
UI and ReDoc draw the API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import ConsoleWorld
from tests.console.live import LiveConsole, launch_browser, require_browser, serve_console


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(console: ConsoleWorld, path: str) -> None:
    client: TestClient = console.client
    page = client.get(path)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # no inline script
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/docs/") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    require_browser()
    yield from serve_console(Path(tmp_path_factory.mktemp("docs-live")))


@pytest.fixture(scope="module")
def browser(live: LiveConsole) -> Iterator[Any]:
    yield from launch_browser()


@pytest.mark.e2e
@pytest.mark.parametrize(("path", "drawn"), [("/docs", ".opblock-summary-path"), ("/redoc", "h1")])
def test_docs_render_in_a_browser_without_network(
    live: LiveConsole, browser: Any, path: str, drawn: str
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context()
    refused: list[str] = []
    errors: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(live.base_url) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if "Refused to" in msg.text else None)
    try:
        page.goto(live.url(path))
        expect(page.locator(drawn).first).to_be_visible(timeout=15_000)
        expect(page.get_by_text("/v1/cases").first).to_be_attached(timeout=15_000)
    finally:
        context.close()
    assert refused == []
    assert errors == []
