"""`make bench` / `make bench-quick`: every benchmark in turn; bench/results/latest.jsonl starts empty.

Before the first benchmark, three things run side by side: one Prefect server for every benchmark
(bench/prefect_server.py) boots, and the sweep databases of SQLite and PostgreSQL load, one process
each (they are reused when already built). A cold `make bench-quick` thus pays the longest of the
three, not their sum.

python -m bench.run_all [--quick] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
import time

from bench.common import LATEST, ROOT, backends, in_child, note, parser
from bench.prefect_server import PrefectServer, ephemeral

#: Chaos runs inside lateness (``--chaos``): on its PostgreSQL database with its four workers, warm.
BENCHES = ("sweep", "lateness", "worker_start", "deliveries", "api", "console_pages", "reports")
OWN_ARGS = {"lateness": ["--chaos"]}
#: These share one API server on the SQLite sweep database (bench/server.py), started before the first.
SERVED = ("api", "console_pages", "reports")


def prepare(args: list[str], wanted: list[str]) -> list[str]:
    """Load the sweep databases in parallel; the names of the backends whose load failed."""
    procs = {
        b: subprocess.Popen(
            [sys.executable, "-m", "bench.sweep", "--prepare", *args, "--backends", b], cwd=ROOT
        )
        for b in wanted
    }
    return [b for b, proc in procs.items() if proc.wait() != 0]


def run_forked(name: str, args: list[str]) -> int:
    """Run ``bench.<name>``'s ``main`` with ``args`` in a forked child; its exit code.

    Forking after the imports skips each benchmark's ~2 s import; the child is still a process of
    its own, as `python -m bench.<name>` would be (same argv, same working directory)."""
    module = importlib.import_module(f"bench.{name}")

    def child() -> int:
        os.chdir(ROOT)
        sys.argv = [f"bench.{name}", *args]
        try:
            module.main()
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        return 0

    return in_child(child)


def served(quick: bool, admin_url: str) -> contextlib.AbstractContextManager[object]:
    """The API server the SERVED benchmarks share, on the SQLite sweep database."""
    # Imported here, like the benchmarks, once PREFECT_API_URL names the shared Prefect server.
    from bench.server import shared_server
    from bench.sweep import FULL, QUICK, dataset

    return shared_server(dataset("sqlite", QUICK if quick else FULL, admin_url))


def main() -> None:
    options = parser(__doc__ or "").parse_args()
    extra = sys.argv[1:]  # passed on as given: `api` keeps its own default backends
    wanted = backends(options)
    LATEST.parent.mkdir(parents=True, exist_ok=True)
    LATEST.write_text("")
    server = None if os.environ.get("PREFECT_API_URL") or ephemeral() else PrefectServer(options.postgres)
    failed = [f"prepare ({b})" for b in prepare(extra, wanted)]
    try:
        if server is not None:
            os.environ["PREFECT_API_URL"] = server.wait()
            note(f"Prefect server at {server.url}")
        # Imported after PREFECT_API_URL is set, so Prefect's settings see the shared server.
        for name in BENCHES:
            importlib.import_module(f"bench.{name}")
        with contextlib.ExitStack() as stack:
            for name in BENCHES:
                note(f"== {name}")
                began = time.monotonic()
                if name == SERVED[0] and "sqlite" in wanted:
                    stack.enter_context(served(options.quick, options.postgres))
                if run_forked(name, [*extra, *OWN_ARGS.get(name, [])]):
                    failed.append(name)
                note(f"== {name}: {time.monotonic() - began:.0f} s")
    finally:
        if server is not None:
            server.stop()
    if failed:
        note(f"benchmarks that stopped with an error: {', '.join(failed)}")
    note(f"figures in {LATEST}")


if __name__ == "__main__":
    main()
