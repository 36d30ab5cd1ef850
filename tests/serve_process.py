"""`lifeline serve` as a real process, for the tests that try Lifeline as it is deployed (the
end-to-end escalation, the creator's browser journey, the demo's console link): the commands run
before it (`db upgrade`, `policies apply`, `keys create`), serve on a free loopback port with its
output in a log file, a bounded wait for it to answer, and a stop that never leaves it running.

Real processes and real time: every wait is a bounded poll (Prefect's temporary server, started by
serve's embedded worker, takes ~10-20 s on a cold PREFECT_HOME).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

LIFELINE = Path(sys.executable).with_name("lifeline")
#: How long serve may take to answer /healthz.
STARTUP_LIMIT = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The environment of a served Lifeline of its own: a SQLite file and a Prefect home in
    ``tmp_path``, Prefect's temporary server (never a configured one), no analytics; plus
    ``variables``."""
    env = {
        **os.environ,
        "LIFELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'lifeline.sqlite'}",
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
        **variables,
    }
    env.pop("PREFECT_API_URL", None)
    return env


def run_lifeline(args: list[str], env: Mapping[str, str]) -> str:
    """``lifeline ARGS`` to completion; its stdout (it must exit 0)."""
    done = subprocess.run([str(LIFELINE), *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def create_key(env: Mapping[str, str], role: str, name: str) -> str:
    """A new API key's secret, made with `lifeline keys create`."""
    output = run_lifeline(["keys", "create", "--role", role, "--name", name], env)
    return next(word for word in output.split() if word.startswith("ll_"))


def poll(check: Callable[[], Any], limit: float, what: str, interval: float = 0.3) -> Any:
    """``check()``'s first truthy result within ``limit`` seconds; AssertionError naming ``what``."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {limit:.0f} s waiting for {what}")


@dataclass
class ServeProcess:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text()

    def log_match(self, pattern: str, limit: float = STARTUP_LIMIT) -> re.Match[str]:
        """The first match of ``pattern`` in serve's output, waiting up to ``limit`` seconds for it."""

        def found() -> re.Match[str] | None:
            assert self.process.poll() is None, f"lifeline serve exited: {self.log_text()[-3000:]}"
            return re.search(pattern, self.log_text())

        match: re.Match[str] = poll(found, limit, f"{pattern!r} in serve's output", 0.2)
        return match

    def healthy(self) -> bool:
        assert self.process.poll() is None, f"lifeline serve exited: {self.log_text()[-3000:]}"
        try:
            return httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 30) -> str:
        """SIGTERM (as a service manager stops it), the kill past ``timeout``; everything it logged."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.log_text()


@contextmanager
def serving(env: Mapping[str, str], log: Path, *args: str, port: int | None = None) -> Iterator[ServeProcess]:
    """`lifeline serve --port PORT ARGS` with ``env``, its output in ``log``, once it answers
    /healthz; stopped on leaving (its log's tail printed, for a failing test's report). ``port``
    defaults to a free one (give one when ``env`` must name it, e.g. LIFELINE_PUBLIC_URL)."""
    port = port or free_port()
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(LIFELINE), "serve", "--port", str(port), *args],
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        served = ServeProcess(f"http://127.0.0.1:{port}", process, log)
        try:
            poll(served.healthy, STARTUP_LIMIT, "the API to answer /healthz")
            yield served
        finally:
            print(served.stop()[-5000:])
