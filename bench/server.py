"""Start bench/api_server.py in its own process on a free loopback port, with keys to call it.

`run_all` starts one for the api, console_pages and reports benchmarks on the SQLite sweep database
(``shared_server``): each of them, run in a child of its own, finds it in the environment
(``LIFELINE_BENCH_API_SERVER``) instead of starting its own (~2 s each)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import httpx

from bench.common import ROOT, peak_rss_mb
from casework.api_keys import create_key
from models.db import make_engine, session_scope
from models.kinds import Role


@dataclass
class Server:
    base: str
    agent_key: str
    auditor_key: str
    pid: int

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.pid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keys(url: str) -> tuple[str, str]:
    engine = make_engine(url)
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%d%H%M%S%f")
    with session_scope(engine) as session:
        agent = create_key(session, f"bench-agent-{stamp}", Role.AGENT, now).secret
        auditor = create_key(session, f"bench-auditor-{stamp}", Role.AUDITOR, now).secret
    engine.dispose()
    return agent, auditor


#: The environment variable naming the server `run_all` shares: JSON of ``Server`` and its ``url``.
SHARED = "LIFELINE_BENCH_API_SERVER"


@contextmanager
def shared_server(url: str) -> Iterator[Server]:
    """A server on ``url`` that ``running_server(url)`` hands out, in this process and its children,
    instead of starting one."""
    with running_server(url) as server:
        os.environ[SHARED] = json.dumps({"url": url, **asdict(server)})
        try:
            yield server
        finally:
            os.environ.pop(SHARED, None)


@contextmanager
def running_server(url: str) -> Iterator[Server]:
    """A server on ``url``: the shared one when there is one for ``url`` (left running), otherwise
    one started here and stopped on leaving."""
    shared = json.loads(os.environ.get(SHARED) or "{}")
    if shared.pop("url", None) == url:
        yield Server(**shared)
        return
    agent, auditor = keys(url)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "bench.api_server", url, str(port)], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/bench/ceiling", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the API server did not start")
        yield Server(base, agent, auditor, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
