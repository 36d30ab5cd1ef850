"""bench.run_all runs each benchmark's ``main`` in a forked child: the child gets the benchmark's
argv and working directory, and its exit code (or failure) comes back to the run."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from bench import run_all
from bench.common import ROOT


def _fake_bench(monkeypatch: pytest.MonkeyPatch, name: str, main: types.FunctionType) -> None:
    module = types.ModuleType(f"bench.{name}")
    module.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"bench.{name}", module)


def test_the_child_runs_main_with_its_argv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "argv.txt"

    def main() -> None:
        out.write_text(" ".join(sys.argv) + "\n" + str(Path.cwd()))

    _fake_bench(monkeypatch, "fake_ok", main)  # type: ignore[arg-type]
    assert run_all.run_forked("fake_ok", ["--quick"]) == 0
    argv, cwd = out.read_text().splitlines()
    assert argv == "bench.fake_ok --quick"
    assert cwd == str(ROOT)
    assert sys.argv[0] != "bench.fake_ok"  # the parent's argv is untouched


def test_an_exit_code_or_an_exception_comes_back_as_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def exits() -> None:
        raise SystemExit(3)

    def raises() -> None:
        raise RuntimeError("boom")

    _fake_bench(monkeypatch, "fake_exit", exits)  # type: ignore[arg-type]
    _fake_bench(monkeypatch, "fake_raise", raises)  # type: ignore[arg-type]
    assert run_all.run_forked("fake_exit", []) == 3
    assert run_all.run_forked("fake_raise", []) == 1
