"""End to end: `lifeline serve` (uvicorn and the embedded worker) in a subprocess on a free loopback
port and a temporary SQLite file; a case whose first deadlines are seconds away is opened over HTTP,
and its breach and escalation, written by the worker, appear over HTTP. Real processes, real time:
polls are bounded (Prefect's temporary server takes ~10-20 s to start on a cold PREFECT_HOME)."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve_process import ServeProcess, create_key, poll, run_lifeline, serve_environment, serving

pytestmark = pytest.mark.e2e

ESCALATION_LIMIT = 120.0

#: First response due 4 s after opening, the first stage escalates after 6 s.
FAST_POLICY = {
    "id": "e2e-fast",
    "title": "Seconds-long deadlines for the end-to-end test",
    "incident_type": "account_compromised",
    "calendar": "always",
    "priority": {"default": "P1", "rules": []},
    "clocks": {
        "first_response": {"target": "PT4S", "stops_on": ["acknowledged"]},
        "resolution": {"target": "PT1H", "stops_on": ["resolved"], "pauses_on": ["waiting_on_creator"]},
    },
    "stages": [
        {"id": "frontline", "queue": "creator-support", "escalate_after": "PT6S"},
        {"id": "security", "queue": "security-specialists"},
    ],
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServeProcess, str]]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "e2e_fast.json").write_text(json.dumps(FAST_POLICY))
    env = serve_environment(tmp_path)
    run_lifeline(["db", "upgrade"], env)
    run_lifeline(["policies", "apply", str(policies)], env)
    key = create_key(env, "agent", "e2e")
    with serving(env, tmp_path / "serve.log") as served:
        yield served, key


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait a while for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop_serve(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a service manager stops it: serve exits cleanly and leaves no process behind
    (Prefect's temporary server is a child process of its own)."""
    # The worker sweeps before Prefect is up ("Prefect joins when up"): the case may be escalated
    # before Prefect's temporary server has started, so wait for it to be there before stopping.
    children: set[int] = poll(lambda: _children(process.pid), 60, "serve to start Prefect's temporary server")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    poll(lambda: not any(_running(pid) for pid in children), 15, "serve's child processes to exit")


def test_serve_escalates_a_case_on_time_and_shows_it_over_http(served: tuple[ServeProcess, str]) -> None:
    serve, key = served
    client = httpx.Client(base_url=serve.base, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    opened = client.post("/v1/cases", json={"policy_id": "e2e-fast", "attributes": {"summary": "e2e"}})
    assert opened.status_code == 201, opened.text
    case = opened.json()
    first_due = _instant(next(c for c in case["clocks"] if c["name"] == "first_response")["due_at"])
    assert first_due - datetime.now(UTC) < timedelta(seconds=5)

    def escalated() -> dict[str, Any] | None:
        current = client.get(f"/v1/cases/{case['id']}").json()
        return current if current["stage"]["id"] == "security" else None

    current = poll(escalated, ESCALATION_LIMIT, "the worker to escalate the case", 0.5)

    assert current["queue"] == "security-specialists"
    first = next(c for c in current["clocks"] if c["name"] == "first_response")
    assert first["breached"] is True and _instant(first["breached_at"]) == first_due
    events = client.get(f"/v1/cases/{case['id']}/events").json()["items"]
    timed = {(e["kind"], e["data"].get("clock") or e["data"].get("stage")): e for e in events}
    breach = timed[("breached", "first_response")]
    assert breach["actor"] == "system:escalation"
    assert _instant(breach["at"]) == first_due  # a timed event's `at` is its deadline
    assert _instant(breach["recorded_at"]) >= first_due
    assert any(e["kind"] == "escalated" and e["actor"] == "system:escalation" for e in events)
    breaches = client.get("/v1/breaches", params={"case_id": case["id"]}).json()["items"]
    assert {(b["target_type"], b["target"]) for b in breaches} >= {("clock", "first_response")}
    _stop_serve(serve.process)
