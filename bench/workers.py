"""`lifeline worker` processes for the benchmarks, started as operators start them: spawn one,
read its heartbeat's mode, stop it with SIGTERM (timed) or SIGKILL."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from bench.common import RESULTS, ROOT, prefect_environment

LIFELINE = ROOT / ".venv" / "bin" / "lifeline"


@dataclass
class Worker:
    """A running `lifeline worker`: its process, its ``--worker-id`` and the log it writes."""

    proc: subprocess.Popen[bytes]
    worker_id: str
    log: Path


def unreachable_prefect_url() -> str:
    """A Prefect API URL nothing answers at (a loopback port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return f"http://127.0.0.1:{port}/api"


def worker_environment(home: str, prefect_api_url: str | None = None) -> dict[str, str]:
    """Prefect's environment for a worker (its own PREFECT_HOME under bench/results); with
    ``prefect_api_url`` given, that server (an unreachable one makes the worker sweep degraded)."""
    env = prefect_environment(RESULTS / f"prefect-home-{home}")
    env["PREFECT_LOGGING_LEVEL"] = "INFO"
    env["PYTHONUNBUFFERED"] = "1"
    if prefect_api_url is not None:
        env["PREFECT_API_URL"] = prefect_api_url
    return env


def spawn_worker(
    url: str, worker_id: str, log: Path, env: dict[str, str], *args: str
) -> subprocess.Popen[bytes]:
    """`lifeline worker --no-serve` on ``url`` in its own process, its output appended to ``log``."""
    cmd = [str(LIFELINE), "worker", "--database-url", url, "--no-serve", "--worker-id", worker_id, *args]
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def heartbeat_mode(engine: Engine, worker_id: str) -> str | None:
    """The worker's last reported orchestrator mode (``prefect`` / ``degraded``), None before it beat."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT orchestrator FROM worker_heartbeats WHERE worker_id = :w"), {"w": worker_id}
        ).first()
    return None if row is None else str(row[0])


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll every 50 ms; RuntimeError after ``timeout`` s or when ``proc`` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the worker exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def stop_worker(proc: subprocess.Popen[bytes], timeout: float = 30) -> tuple[int | None, float]:
    """SIGTERM; (exit code, seconds until it exited). Killed (code None) beyond ``timeout``."""
    if proc.poll() is not None:
        return proc.returncode, 0.0
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        code = None
    return code, time.monotonic() - sent
