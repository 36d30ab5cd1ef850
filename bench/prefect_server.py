"""One Prefect server for every benchmark of a run, as a multi-worker deployment has (DESIGN.md,
"Scale-out"), instead of a temporary server started by each worker or sweep process (~10-15 s each,
which alone took a cold `make bench-quick` past two minutes).

``run_all`` starts it first, in the background, so it boots while the datasets load; a benchmark run
alone starts its own. Its state lives in PostgreSQL when the benchmark server is up (as the
scale-out deployment keeps it; see ``prefect_database``), else in SQLite under its home. Either way
the children find it through ``PREFECT_API_URL``. An operator's own
``PREFECT_API_URL`` is used as it is and never stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx

from bench.common import (
    DEFAULT_POSTGRES,
    RESULTS,
    ROOT,
    database_url,
    drop_database,
    note,
    postgres_up,
    prefect_environment,
)

HOME = RESULTS / "prefect-server-home"
STARTUP_SECONDS = 120.0


def prefect_database(admin_url: str) -> str | None:
    """A fresh PostgreSQL database for the Prefect server's own state, or None (SQLite in its home)
    when the server at ``admin_url`` is down. On its default SQLite database the Prefect server
    stalled flow-run creation for ~2.4 s about every 10 s under the full lateness load (its
    services flushing events hold the write lock): the p99 read 2.2 s instead of 0.25 s."""
    from sqlalchemy.engine import make_url

    if not postgres_up(admin_url):
        return None
    url = database_url("postgresql", "prefect", admin_url)
    drop_database(url, admin_url)
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


class PrefectServer:
    """A `prefect server start` child on a free loopback port; ``wait()`` blocks until it is healthy."""

    def __init__(self, admin_url: str = DEFAULT_POSTGRES) -> None:
        from bench.server import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        env = prefect_environment(HOME)
        env["PREFECT_HOME"] = str(HOME)
        env.pop("PREFECT_API_URL", None)
        env["PREFECT_SERVER_LOGGING_LEVEL"] = "WARNING"
        database = prefect_database(admin_url)
        if database is not None:
            env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database
        HOME.mkdir(parents=True, exist_ok=True)
        self.log = RESULTS / "prefect-server.log"
        cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        self._healthy = False

    def wait(self) -> str:
        """The server's API URL once /health answers; RuntimeError (naming the log) if it never does."""
        while not self._healthy:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Prefect server exited; see {self.log}")
            with suppress(httpx.HTTPError):
                self._healthy = httpx.get(f"{self.url}/health", timeout=1).status_code == 200
            if self._healthy:
                break
            # Asked first, then timed: run_all waits only after the datasets load, which at full
            # size takes longer than the server's whole start-up allowance.
            if time.monotonic() - self.started > STARTUP_SECONDS:
                raise RuntimeError(f"the Prefect server did not start in time; see {self.log}")
            time.sleep(0.2)
        return self.url

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def ephemeral() -> bool:
    """``LIFELINE_BENCH_PREFECT=ephemeral``: no shared server; each worker or sweep process starts
    Prefect's temporary server of its own, as a single `lifeline worker` with no Prefect settings."""
    return os.environ.get("LIFELINE_BENCH_PREFECT", "server") == "ephemeral"


@contextmanager
def shared_prefect(admin_url: str = DEFAULT_POSTGRES) -> Iterator[None]:
    """Make ``PREFECT_API_URL`` name a running Prefect server for this process and its children:
    the one already named, or one started here (and stopped on exit)."""
    if os.environ.get("PREFECT_API_URL") or ephemeral():
        yield
        return
    server = PrefectServer(admin_url)
    try:
        os.environ["PREFECT_API_URL"] = server.wait()
        note(f"Prefect server at {server.url} ({time.monotonic() - server.started:.1f} s to start)")
        yield
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()
