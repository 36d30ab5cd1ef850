"""The console served for real, for the browser tests: uvicorn on a free loopback port in a thread,
a SQLite file, and a clock that follows real time plus an offset the test moves (so the browser's
countdowns and the server agree until a test jumps ahead to make deadlines pass).

Chromium is Debian's (/usr/bin/chromium) driven by Playwright; axe-core (axe-playwright-python)
scans pages. When Chromium is missing the tests skip with a printed reason, or fail under CI=true.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine

from api.app import create_app
from casework.cases.escalations import apply_due_timers, claim_due_cases
from casework.cases.lifecycle import apply_action, open_case
from console.app import install
from models.db import make_engine, session_scope
from models.migrate import migrate
from tests.api.conftest import create_keys, sample_policy
from tests.casework.builders import CREATOR, register
from tests.serve_process import free_port

CHROMIUM = Path(os.environ.get("LIFELINE_CHROMIUM", "/usr/bin/chromium"))
#: Where the run saves the README's screenshots when set (``make screenshots`` sets docs/images).
SCREENSHOTS_ENV = "LIFELINE_CONSOLE_SCREENSHOTS"
SERIOUS = ("serious", "critical")


def require_browser() -> None:
    """Skip (printing why) or, under CI=true, fail when the browser cannot run."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium): console browser tests skipped"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:  # pragma: no cover - pinned in pyproject
            reason = "playwright is not installed: console browser tests skipped"
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    print(reason)
    pytest.skip(reason)


@dataclass
class OffsetClock:
    """Real time plus ``offset``; ``advance`` moves it forward (never sleeps)."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> datetime:
        self.offset += timedelta(**delta)
        return self()


@dataclass
class LiveConsole:
    base_url: str
    engine: Engine
    clock: OffsetClock
    keys: dict[str, str]

    def url(self, path: str) -> str:
        return self.base_url + path

    def open_case(self, attributes: dict[str, Any] | None = None, minutes_ago: float = 0) -> str:
        now = self.clock()
        with session_scope(self.engine) as session:
            change = open_case(
                session,
                incident_type="account_compromised",
                attributes=attributes or CREATOR,
                actor="agent:intake",
                now=now,
                opened_at=now - timedelta(minutes=minutes_ago),
            )
            return change.case.id

    def act(self, case_id: str, action: str, actor: str = "agent:zoe", **args: Any) -> None:
        with session_scope(self.engine) as session:
            apply_action(session, case_id, action, args, actor, self.clock())

    def run_worker_sweep(self) -> int:
        """What the escalation worker does at the clock's now: apply every due timer."""
        now = self.clock()
        with session_scope(self.engine) as session:
            return len(apply_due_timers(session, claim_due_cases(session, now), now))


def serve_console(tmp: Path) -> Iterator[LiveConsole]:
    url = f"sqlite:///{tmp / 'console.sqlite'}"
    migrate(url)
    engine = make_engine(url)
    day_before = datetime.now(UTC) - timedelta(days=1)
    register(engine, sample_policy(), now=day_before)
    keys = create_keys(engine, day_before)
    clock = OffsetClock()
    app = install(create_app(engine, clock=clock))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start in 30 s"
        assert thread.is_alive(), "uvicorn stopped while starting"
        time.sleep(0.05)
    try:
        yield LiveConsole(f"http://127.0.0.1:{port}", engine, clock, keys)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        engine.dispose()


def launch_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Any, **context_options: Any) -> Iterator[Any]:
    """A page in a fresh 1280x900 browser context; after the test, asserts the page raised no script
    error and the Content-Security-Policy refused nothing."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda msg: errors.append(msg.text) if "Refused to" in msg.text else None)
    yield page
    context.close()
    assert errors == [], f"script errors or CSP refusals: {errors}"


def sign_in(page: Any, live: LiveConsole, who: str) -> None:
    page.goto(live.url("/console/login"))
    page.get_by_label("API key").fill(live.keys[who])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page, as readable lines."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]


def screenshot(page: Any, name: str, full_page: bool = False) -> None:
    """Save the README's screenshot ``name`` when SCREENSHOTS_ENV names a folder."""
    folder = os.environ.get(SCREENSHOTS_ENV)
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)
