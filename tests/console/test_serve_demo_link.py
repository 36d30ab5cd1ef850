"""`lifeline serve --demo` prints the console's address and a one-time signed-in link for the demo
agent: opening it signs in and shows the demo cases in the queue; and the first case's creator
link, which opens that creator's status page without signing in (a real process, real HTTP)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.serve_process import serve_environment, serving

pytestmark = pytest.mark.e2e


def test_serve_demo_prints_a_console_link_that_signs_the_agent_in(tmp_path: Path) -> None:
    env = serve_environment(tmp_path)
    with serving(env, tmp_path / "serve.log", "--demo", "--no-worker") as serve:
        assert serve.log_match(r"Console:\s+(\S+)").group(1) == f"{serve.base}/console/"
        link = serve.log_match(r"Signed in:\s+(\S+)").group(1)
        with httpx.Client(follow_redirects=True) as browser:
            signed = browser.get(link)
            assert signed.status_code == 200 and str(signed.url) == f"{serve.base}/console/queue"
            assert signed.text.count("<tr data-case=") == 12  # the demo's cases
            assert "@lunabakes" in signed.text
        again = httpx.get(link, follow_redirects=False)
        assert again.status_code == 400  # one-time
        creator = serve.log_match(r"Creator:\s+(\S+)\s+\(what @lunabakes sees").group(1)
        assert creator.startswith(f"{serve.base}/status/")
        status = httpx.get(creator)  # no sign-in
        assert status.status_code == 200 and "<h1>Your account was taken over</h1>" in status.text
        assert "What we promised" in status.text
