"""`make bench` / `make bench-quick`: every benchmark in turn; bench/results/latest.jsonl starts empty.

Before the first benchmark, three things run side by side: one Prefect server for every benchmark
(bench/prefect_server.py) boots, and the sweep databases of SQLite and PostgreSQL load, one process
each (they are reused when already built). A cold `make bench-quick` thus pays the longest of the
three, not their sum.

python -m bench.run_all [--quick] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import os
import subprocess
import sys

from bench.common import LATEST, ROOT, backends, note, parser
from bench.prefect_server import PrefectServer, ephemeral

BENCHES = ("sweep", "lateness", "worker_start", "chaos", "deliveries", "api", "console_pages", "reports")


def prepare(args: list[str], wanted: list[str]) -> list[str]:
    """Load the sweep databases in parallel; the names of the backends whose load failed."""
    procs = {
        b: subprocess.Popen(
            [sys.executable, "-m", "bench.sweep", "--prepare", *args, "--backends", b], cwd=ROOT
        )
        for b in wanted
    }
    return [b for b, proc in procs.items() if proc.wait() != 0]


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
        for name in BENCHES:
            note(f"== {name}")
            if subprocess.run([sys.executable, "-m", f"bench.{name}", *extra], cwd=ROOT).returncode:
                failed.append(name)
    finally:
        if server is not None:
            server.stop()
    if failed:
        note(f"benchmarks that stopped with an error: {', '.join(failed)}")
    note(f"figures in {LATEST}")


if __name__ == "__main__":
    main()
