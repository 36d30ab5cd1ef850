"""An auditor and an admin in headless Chromium against the console served by uvicorn: the auditor
verifies the chain, reads the reports' charts and downloads a CSV; the admin diffs two policy
versions and simulates. axe-core finds no serious violation on any of these pages."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from casework.registry import policy_registry
from models.db import session_scope
from policies.loader import bundled_policies_dir, parse_policy_text
from tests.console.live import (
    LiveConsole,
    launch_browser,
    open_page,
    require_browser,
    serious_violations,
    serve_console,
    sign_in,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    require_browser()
    yield from serve_console(Path(tmp_path_factory.mktemp("console-oversight")))


@pytest.fixture(scope="module")
def browser(live: LiveConsole) -> Iterator[Any]:
    yield from launch_browser()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from open_page(browser, accept_downloads=True)


def test_auditor_verifies_the_chain_and_downloads_breaches(live: LiveConsole, page: Any) -> None:
    from playwright.sync_api import expect

    late = live.open_case(minutes_ago=20)  # first response breached 5 minutes ago
    sign_in(page, live, "auditor")
    expect(page).to_have_url(live.url("/console/breaches"))
    expect(page.locator(f'tr[data-case="{late}"]')).to_contain_text("first_response")
    assert serious_violations(page) == []
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download these breaches as CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert [(r["case_id"], r["target"]) for r in rows] == [(late, "first_response")]

    page.get_by_role("link", name="Audit").click()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Run verification").click()
    expect(page.locator("#verify-result")).to_contain_text("Clean.")
    expect(page.locator("#verify-result")).to_contain_text("1 case(s)")
    assert serious_violations(page) == []


def test_auditor_reads_the_reports_charts(live: LiveConsole, page: Any) -> None:
    from playwright.sync_api import expect

    live.open_case(minutes_ago=20)
    sign_in(page, live, "auditor")
    page.get_by_role("link", name="Reports").click()
    page.get_by_role("button", name="Show report").click()
    expect(page.locator("svg.bar-chart")).to_have_count(2)
    expect(page.locator("table.compliance")).to_contain_text("first_response")
    assert serious_violations(page) == []


def _register_bundled_twice(live: LiveConsole) -> None:
    text = (bundled_policies_dir() / "account_compromised.json").read_text()
    for version_text in (text, text.replace('"P1": "PT15M"', '"P1": "PT20M"', 1)):
        with session_scope(live.engine) as session:
            policy = parse_policy_text(version_text, "account_compromised.json")
            policy_registry.register_policies(session, [policy], datetime.now(UTC))


def test_admin_diffs_two_versions_and_simulates(live: LiveConsole, page: Any) -> None:
    from playwright.sync_api import expect

    _register_bundled_twice(live)
    sign_in(page, live, "admin")
    page.goto(live.url("/console/policies"))
    assert serious_violations(page) == []
    page.get_by_role("link", name="account-compromised").click()
    page.get_by_label("From version").select_option("1")
    page.get_by_label("To version").select_option("2")
    page.get_by_role("button", name="Show differences").click()
    changed = page.locator('tr[data-tag="changed"]')
    expect(changed).to_have_count(1)
    expect(changed).to_contain_text("PT15M")
    expect(changed).to_contain_text("PT20M")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator("#sim-result")).to_contain_text("Timeline (version 2)")
    expect(page.locator("svg.axis circle").first).to_be_attached()
    expect(page.locator('table.sim-timeline tr[data-kind="escalated"]').first).to_be_visible()
    assert serious_violations(page) == []
