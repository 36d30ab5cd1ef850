"""The creator channel tried as a creator would: `lifeline serve` (uvicorn and the embedded worker) in
a subprocess, a real SMTP server (aiosmtpd) catching the worker's email, headless Chromium opening
the link from that email in Italian and in the Rome time zone, reading the promise, answering the
agent's request, and the case's paused clock running again, seen over the API and in the agent's
console. Real processes and real time: waits are bounded polls."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from policies.loader import bundled_policies_dir
from tests.creator.conftest import CREATOR_ATTRIBUTES
from tests.creator.smtp_server import Mailbox, smtp_server, text_part

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LIFELINE = Path(sys.executable).with_name("lifeline")
LINK = re.compile(r"http://127\.0\.0\.1:\d+/status/([A-Za-z0-9_-]{43})")


@dataclass
class Served:
    base: str
    key: str
    mailbox: Mailbox
    log: Path

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kwargs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([str(LIFELINE), *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _poll(check: Callable[[], Any], limit: float, what: str) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out after {limit:.0f} s waiting for {what}")


def _healthy(base: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "lifeline serve exited"
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(bundled_policies_dir() / "account_compromised.json", policies)
    port = _free_port()
    with smtp_server() as mailbox:
        env = {
            **os.environ,
            "LIFELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'lifeline.sqlite'}",
            "LIFELINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "LIFELINE_SMTP_URL": mailbox.url,
            "PREFECT_HOME": str(tmp_path / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }
        env.pop("PREFECT_API_URL", None)
        _run(["db", "upgrade"], env)
        _run(["policies", "apply", str(policies)], env)
        output = _run(["keys", "create", "--role", "agent", "--name", "browser"], env)
        key = next(word for word in output.split() if word.startswith("ll_"))
        log = tmp_path / "serve.log"
        with log.open("w") as sink:
            process = subprocess.Popen(
                [str(LIFELINE), "serve", "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT
            )
            base = f"http://127.0.0.1:{port}"
            try:
                _poll(lambda: _healthy(base, process), 90, "the API to answer /healthz")
                yield Served(base, key, mailbox, log)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


def _rome_hour_minute(iso: str) -> str:
    instant = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return instant.astimezone(ZoneInfo("Europe/Rome")).strftime("%H:%M")


def _console(browser: Any, served: Served) -> Any:
    """The agent's console, signed in with the agent's key."""
    page = browser.new_context().new_page()
    page.goto(f"{served.base}/console/login")
    page.fill("#key", served.key)
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    return page


def _console_clock_state(page: Any, served: Served, case_id: str, clock: str) -> str:
    page.goto(f"{served.base}/console/cases/{case_id}")
    state: str = page.locator(f'tr[data-clock="{clock}"] td').nth(5).inner_text()
    return state.strip()


def test_a_creator_opens_the_emailed_link_reads_the_promise_in_italian_and_answers(
    served: Served, chromium: Any
) -> None:
    opened = served.api(
        "POST", "/v1/cases", json={"incident_type": "account_compromised", "attributes": CREATOR_ATTRIBUTES}
    )
    assert opened.status_code == 201, opened.text
    case = opened.json()
    first_due = next(c for c in case["clocks"] if c["name"] == "first_response")["due_at"]

    messages = _poll(lambda: served.mailbox.messages, 120, "the worker's email to the creator")
    assert messages[0]["Subject"] == "Abbiamo ricevuto la tua richiesta: Il tuo account è stato compromesso"
    found = LINK.search(text_part(messages[0]))
    assert found is not None
    link, token = found.group(0), found.group(1)
    assert link == case["creator_link"]

    context = chromium.new_context(locale="it-IT", timezone_id="Europe/Rome")
    page = context.new_page()
    response = page.goto(link)
    assert response is not None and response.status == 200
    assert page.locator("html").get_attribute("lang") == "it"
    assert page.locator("h1").inner_text() == "Il tuo account è stato compromesso"
    promise = page.locator("li.promise-answer")
    assert "Ti risponderemo entro" in promise.inner_text()
    assert promise.locator("time").get_attribute("datetime") == first_due.replace("+00:00", "Z")[:19] + "Z"
    assert _rome_hour_minute(first_due) in promise.locator("time").inner_text()  # shown in Rome's time
    assert "UTC" not in promise.locator("time").inner_text()

    ask = "Inviaci lo screenshot dell'avviso di accesso, per favore."
    assert (
        served.api("POST", f"/v1/cases/{case['id']}/actions", json={"action": "acknowledge"}).status_code
        == 200
    )
    asked = served.api(
        "POST", f"/v1/cases/{case['id']}/actions", json={"action": "request_info", "reason": ask}
    )
    assert next(c for c in asked.json()["clocks"] if c["name"] == "resolution")["state"] == "paused"

    console = _console(chromium, served)
    assert _console_clock_state(console, served, case["id"], "resolution") == "paused"

    page.reload()
    assert "Abbiamo bisogno di qualcosa da te" in page.content()
    assert page.locator("blockquote.request").inner_text() == ask
    assert "In sospeso finché non ci rispondi" in page.locator("li.promise-resolve").inner_text()
    page.fill("textarea[name=message]", "Ecco: l'avviso è arrivato alle 3:12 da Lagos.")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*sent=1"))
    assert "Grazie: il tuo messaggio ci è arrivato." in page.content()
    assert "Ecco: l'avviso è arrivato alle 3:12 da Lagos." in page.locator("ol.messages").inner_text()

    view = served.api("GET", f"/v1/cases/{case['id']}").json()
    assert view["status"] == "in_progress"
    assert next(c for c in view["clocks"] if c["name"] == "resolution")["state"] == "running"
    assert _console_clock_state(console, served, case["id"], "resolution") == "running"  # the agent sees it
    context.close()

    log = served.log.read_text()
    assert token not in log
    assert "/status/***" in log
