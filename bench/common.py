"""What every benchmark shares: sizes, databases, figures, peak memory, Prefect's environment.

A figure is one JSON line ``{"bench", "metric", "value", "unit", "baseline", "ratio"}`` printed on
stdout and appended to bench/results/latest.jsonl. ``baseline`` is the value of the floor or the
ceiling measured in the same run (or the target when there is no such thing); ``ratio`` is
value / baseline. Benchmarks report; they never fail for being slow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LATEST = RESULTS / "latest.jsonl"
#: The PostgreSQL server the benchmarks create their own databases on (trust auth, as in tests).
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Figure:
    bench: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None

    def as_dict(self) -> dict[str, Any]:
        ratio = None
        if self.baseline:
            ratio = round(self.value / self.baseline, 3)
        baseline = None if self.baseline is None else round(self.baseline, 4)
        return {
            "bench": self.bench,
            "metric": self.metric,
            "value": round(self.value, 4),
            "unit": self.unit,
            "baseline": baseline,
            "ratio": ratio,
        }


def emit(figure: Figure) -> None:
    """Print the figure's JSON line and append it to bench/results/latest.jsonl."""
    line = json.dumps(figure.as_dict())
    print(line, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with LATEST.open("a", encoding="utf-8") as out:
        out.write(line + "\n")


def note(message: str) -> None:
    """Progress for people, on stderr (stdout holds only figures)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="smaller sizes and shorter windows (bench/README.md)")
    p.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (postgresql is skipped when the server is down)",
    )
    p.add_argument("--postgres", default=os.environ.get("LIFELINE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    return p


def backends(args: argparse.Namespace) -> list[str]:
    wanted = [b.strip() for b in str(args.backends).split(",") if b.strip()]
    if "postgresql" in wanted and not postgres_up(args.postgres):
        note(f"PostgreSQL at {args.postgres} is not reachable: skipping it")
        wanted.remove("postgresql")
    return wanted


def postgres_up(admin_url: str) -> bool:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(admin_url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def database_url(backend: str, name: str, admin_url: str = DEFAULT_POSTGRES) -> str:
    """Where the benchmark ``name`` keeps its data on ``backend`` (a file, or a database)."""
    if backend == "sqlite":
        RESULTS.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{RESULTS / (name + '.sqlite')}"
    from sqlalchemy.engine import make_url

    # LIFELINE_BENCH_DB_PREFIX lets two checkouts benchmark on one server without sharing databases.
    prefix = os.environ.get("LIFELINE_BENCH_DB_PREFIX", "lifeline_")
    return make_url(admin_url).set(database=f"{prefix}{name}").render_as_string(hide_password=False)


def drop_database(url: str, admin_url: str = DEFAULT_POSTGRES) -> None:
    """Remove the SQLite file (and its WAL) or drop and re-create the PostgreSQL database, empty."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(parsed.database) + suffix).unlink(missing_ok=True)
        return
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process, in MiB (Linux /proc)."""
    path = Path(f"/proc/{pid or os.getpid()}/status")
    for line in path.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def prefect_environment(home: Path | None = None) -> dict[str, str]:
    """An environment for processes running Prefect: a PREFECT_HOME kept between runs under
    bench/results (the temporary server starts faster on a used home) and Lifeline's defaults."""
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(home or RESULTS / "prefect-home"))
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    return env


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def start_child(body: Callable[[], int]) -> int:
    """Fork a child that runs ``body`` and exits with its answer (1 when it raised: the traceback is
    printed); its pid. The child leaves through ``os._exit``: nothing it inherited (pooled
    connections, atexit handlers) is closed or run twice."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child leaves through os._exit
        code = 1
        try:
            code = body()
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    return pid


def wait_child(pid: int) -> int:
    """The exit code of the child ``pid``, once it has exited."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def in_child(body: Callable[[], int]) -> int:
    """Run ``body`` in a forked child (``start_child``); its exit code."""
    return wait_child(start_child(body))


def prefork(function: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Fork a child now that waits, and return what runs ``function`` in it: calling that tells the
    child to go and returns ``function()``'s result (JSON-able); RuntimeError when the child fails.
    Forked before the caller builds up memory of its own, the child's peak memory (VmHWM: what it
    inherits counts) is what it had at the fork plus what ``function`` takes. A child never told to
    go exits when this process does (its end of the pipe closes)."""
    go_read, go_write = os.pipe()
    handle, name = tempfile.mkstemp(suffix=".json")  # a file: a pipe could fill and block the child
    os.close(handle)
    answer = Path(name)

    def child() -> int:
        os.close(go_write)
        with os.fdopen(go_read, "rb") as go:
            if go.read(1) != b"1":
                return 0
        answer.write_text(json.dumps(function()))
        return 0

    pid = start_child(child)
    os.close(go_read)

    def run() -> dict[str, Any]:
        os.write(go_write, b"1")
        os.close(go_write)
        code = wait_child(pid)
        text = answer.read_text()
        answer.unlink()
        if code != 0 or not text:
            raise RuntimeError(f"the forked child running {getattr(function, '__name__', function)} failed")
        result: dict[str, Any] = json.loads(text)
        return result

    return run


def forked(function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``function()``'s result (JSON-able), computed in a child forked from this process: a process of
    its own (its own interpreter lock and peak memory) without starting Python and importing again
    what this one has imported already. RuntimeError when the child fails."""
    return prefork(function)()
