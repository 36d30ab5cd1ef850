"""`make bench` / `make bench-quick`: every benchmark in turn; bench/results/latest.jsonl starts empty.

python -m bench.run_all [--quick]
"""

from __future__ import annotations

import subprocess
import sys

from bench.common import LATEST, ROOT, note

BENCHES = ("sweep", "lateness", "api", "reports")


def main() -> None:
    extra = sys.argv[1:]
    LATEST.parent.mkdir(parents=True, exist_ok=True)
    LATEST.write_text("")
    failed = []
    for name in BENCHES:
        note(f"== {name}")
        if subprocess.run([sys.executable, "-m", f"bench.{name}", *extra], cwd=ROOT).returncode != 0:
            failed.append(name)
    if failed:
        note(f"benchmarks that stopped with an error: {', '.join(failed)}")
    note(f"figures in {LATEST}")


if __name__ == "__main__":
    main()
