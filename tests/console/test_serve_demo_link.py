"""`lifeline serve --demo` prints the console's address and a one-time signed-in link for the demo
agent: opening it signs in and shows the demo cases in the queue (a real process, real HTTP)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.console.live import _free_port

pytestmark = pytest.mark.e2e

LIFELINE = Path(sys.executable).with_name("lifeline")
STARTUP_LIMIT = 90.0


def _wait_for(log: Path, pattern: str, process: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + STARTUP_LIMIT
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text())
        if found:
            return found
        assert process.poll() is None, f"lifeline serve exited: {log.read_text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} in {STARTUP_LIMIT:.0f} s: {log.read_text()[-3000:]}")


def test_serve_demo_prints_a_console_link_that_signs_the_agent_in(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "LIFELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite'}"}
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(LIFELINE), "serve", "--demo", "--no-worker", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            assert _wait_for(log_path, r"Console:\s+(\S+)", process).group(1) == f"{base}/console/"
            link = _wait_for(log_path, r"Signed in:\s+(\S+)", process).group(1)
            _wait_for(log_path, r"Application startup complete", process)  # serve hands uvicorn its socket
            with httpx.Client(follow_redirects=True) as browser:
                signed = browser.get(link)
                assert signed.status_code == 200 and str(signed.url) == f"{base}/console/queue"
                assert signed.text.count("<tr data-case=") == 12  # the demo's cases
                assert "@lunabakes" in signed.text
            again = httpx.get(link, follow_redirects=False)
            assert again.status_code == 400  # one-time
        finally:
            process.terminate()
            process.wait(timeout=30)
