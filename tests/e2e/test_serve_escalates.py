"""End to end: `lifeline serve` (uvicorn and the embedded worker) in a subprocess on a free loopback
port and a temporary SQLite file; a case whose first deadlines are seconds away is opened over HTTP,
and its breach and escalation, written by the worker, appear over HTTP. Real processes, real time:
polls are bounded (Prefect's temporary server takes ~10-20 s to start on a cold PREFECT_HOME)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

LIFELINE = Path(sys.executable).with_name("lifeline")
STARTUP_LIMIT = 90.0
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
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
        time.sleep(0.5)
    raise AssertionError(f"timed out after {limit:.0f} s waiting for {what}")


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "e2e_fast.json").write_text(json.dumps(FAST_POLICY))
    env = {
        **os.environ,
        "LIFELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'lifeline.sqlite'}",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    env.pop("PREFECT_API_URL", None)
    _run(["db", "upgrade"], env)
    _run(["policies", "apply", str(policies)], env)
    return env


@pytest.fixture
def server(environment: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    key_output = _run(["keys", "create", "--role", "agent", "--name", "e2e"], environment)
    key = next(word for word in key_output.split() if word.startswith("ll_"))
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [str(LIFELINE), "serve", "--port", str(port)], env=environment, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _poll(lambda: _healthy(base, process), STARTUP_LIMIT, "the API to answer /healthz")
        yield base, key, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        print((tmp_path / "serve.log").read_text()[-5000:])


def _healthy(base: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "lifeline serve exited"
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


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
    children = _children(process.pid)
    assert children, "serve runs no child process: where is Prefect's temporary server?"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    _poll(lambda: not any(_running(pid) for pid in children), 15, "serve's child processes to exit")


def test_serve_escalates_a_case_on_time_and_shows_it_over_http(
    server: tuple[str, str, subprocess.Popen[bytes]],
) -> None:
    base, key, process = server
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    opened = client.post("/v1/cases", json={"policy_id": "e2e-fast", "attributes": {"summary": "e2e"}})
    assert opened.status_code == 201, opened.text
    case = opened.json()
    first_due = _instant(next(c for c in case["clocks"] if c["name"] == "first_response")["due_at"])
    assert first_due - datetime.now(UTC) < timedelta(seconds=5)

    def escalated() -> dict[str, Any] | None:
        current = client.get(f"/v1/cases/{case['id']}").json()
        return current if current["stage"]["id"] == "security" else None

    current = _poll(escalated, ESCALATION_LIMIT, "the worker to escalate the case")

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
    _stop_serve(process)
