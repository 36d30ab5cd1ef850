"""Run mutmut's survivors again against today's tests, one by one: ``make mutation-recheck``.

mutmut 3 runs, for each mutant, only the tests its stats say cover the mutated function, and those
stats are collected once per ``mutants/`` directory. Two things escape them: tests written after the
stats were collected (they never run against the mutants), and functions that build closures at
import time (``sla_engine.conditions._ordered`` returns the comparison a table holds: the closure
runs in the tests, the function only at import, so no test is mapped to it). This script copies the
current ``tests/`` into ``mutants/``, then runs the configured test selection against each survivor
(``MUTANT_UNDER_TEST``; ``-x``, so a killed mutant stops at its first failing test), two at a time,
and prints one line per mutant as its run ends, then the totals. Nothing in mutmut's own results changes.

    python -m tests.mutation_recheck [--tests tests/engine] [--jobs 2] [--timeout 900] [GLOB ...]
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"


def survivors(patterns: list[str]) -> list[str]:
    """The names mutmut reports as survived (or timed out), filtered by ``patterns``."""
    listing = subprocess.run(
        [sys.executable, "-m", "mutmut", "results"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    names = [
        line.split(":")[0].strip()
        for line in listing.splitlines()
        if line.rstrip().endswith(("survived", "timeout"))
    ]
    return [n for n in names if not patterns or any(fnmatch.fnmatch(n, p) for p in patterns)]


def pytest_args(tests: list[str] | None) -> list[str]:
    """The test selection and options of ``[tool.mutmut]`` (or ``tests`` instead of its selection)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    selection = tests or list(config.get("pytest_add_cli_args_test_selection", ["tests"]))
    return ["-x", "-q", *config.get("pytest_add_cli_args", []), *selection]


def killed(name: str, args: list[str], timeout: float) -> bool:
    """Whether a test fails with ``name`` applied. A run past ``timeout`` seconds counts as killed,
    as mutmut's timeouts do (a mutated loop bound that never ends); set it above the selection's
    own duration on this host, or a slow survivor is miscounted."""
    env = {**os.environ, "MUTANT_UNDER_TEST": name}
    command = [sys.executable, "-m", "pytest", *args]
    try:
        run = subprocess.run(command, cwd=MUTANTS, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True
    return run.returncode != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patterns", nargs="*", help="mutant name globs, e.g. 'sla_engine.migration*'")
    parser.add_argument("--tests", action="append", help="test paths instead of the configured selection")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a run counts as killed")
    options = parser.parse_args()
    if not MUTANTS.is_dir():
        print("no mutants/ here: run `make mutation` first", file=sys.stderr)
        return 2
    shutil.copytree(ROOT / "tests", MUTANTS / "tests", dirs_exist_ok=True)
    names, args = survivors(options.patterns), pytest_args(options.tests)
    outcomes: list[bool] = []
    with ThreadPoolExecutor(options.jobs) as pool:
        futures = {pool.submit(killed, name, args, options.timeout): name for name in names}
        for future in as_completed(futures):  # a verdict a line as it comes: long runs can be followed
            outcomes.append(future.result())
            print(f"{futures[future]}: {'killed' if outcomes[-1] else 'survived'}", flush=True)
    print(
        f"{sum(outcomes)} of {len(names)} survivors killed by today's tests; {outcomes.count(False)} survive"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
