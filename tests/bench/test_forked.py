"""bench.common.forked runs a function in a child forked from the test's process (the load
generator and the sweep flow run this way): its result comes back, its failure is an error, and
what it changes stays in the child."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any

import pytest

from bench import server
from bench.common import forked, peak_rss_mb, prefork

STATE = {"touched": False}


def test_the_result_comes_back_from_another_process() -> None:
    def work() -> dict[str, Any]:
        STATE["touched"] = True
        return {"pid": os.getpid(), "sum": sum(range(10))}

    result = forked(work)
    assert result["sum"] == 45
    assert result["pid"] != os.getpid()
    assert STATE["touched"] is False  # the child's memory is its own


def test_a_child_forked_before_the_parent_grows_does_not_count_its_growth() -> None:
    """The sweep benchmark forks its flow's child before it takes its snapshots: the child's peak
    memory (a figure with a 300 MiB target) is its own, not the snapshots'."""
    run = prefork(lambda: {"peak": peak_rss_mb()})
    ballast = b"x" * (200 * 2**20)  # written, so resident in this process only
    assert peak_rss_mb() - run()["peak"] > 150
    assert len(ballast) == 200 * 2**20


def test_a_failing_child_is_an_error_that_names_its_function() -> None:
    def breaks() -> dict[str, Any]:
        raise ValueError("no")

    with pytest.raises(RuntimeError, match="breaks"):
        forked(breaks)


def test_a_shared_server_is_handed_out_for_its_database_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run_all` shares one API server between three benchmarks: a benchmark on that database gets
    it (and leaves it running); one on another database would start its own."""
    shared = server.Server(base="http://127.0.0.1:1", agent_key="a", auditor_key="b", pid=4242)
    monkeypatch.setenv(server.SHARED, json.dumps({"url": "sqlite:///shared.sqlite", **asdict(shared)}))
    with server.running_server("sqlite:///shared.sqlite") as found:
        assert found == shared
    started: list[str] = []

    def keys(url: str) -> tuple[str, str]:
        started.append(url)
        return "x", "y"

    monkeypatch.setattr(server, "keys", keys)
    monkeypatch.setattr("bench.server.subprocess.Popen", _refuse)
    with pytest.raises(_Started), server.running_server("sqlite:///other.sqlite"):
        pass
    assert started == ["sqlite:///other.sqlite"]


class _Started(Exception):
    pass


def _refuse(*args: object, **kwargs: object) -> None:
    raise _Started()
