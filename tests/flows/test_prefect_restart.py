"""A Prefect server killed and started again: the worker (a process of its own, `lifeline worker`)
sweeps without it meanwhile and goes back to flow runs when it answers again, with new clients
(flows/prefect_clients.py: a pair is built each time Prefect comes up), writing every escalation
once. A flow run given up on when the server died is cancelled when it is back (its client would
retry for up to a minute, and the worker starts no flow run meanwhile: CI caught that).

A degraded blip right after the restart is tolerated, so this test does not by itself catch a pair
kept across the restart (its stale connection fails once, then works):
tests/flows/test_prefect_clients.py checks that a new pair is built and the old one closed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.casework.builders import T0
from tests.flows.scenarios import assert_exactly_once, open_cases, register_ladder
from tests.flows.test_crash_exactly_once import expected_timed_events
from tests.flows.test_worker_process import (
    STOP_LIMIT,
    assert_stopped_cleanly,
    heartbeat_mode,
    prefect_server,
    start_worker,
    stop_within,
    timed_kinds_by_case,
    wait_until,
    worker_env,
    worker_part_of_stop,
)

pytestmark = pytest.mark.e2e


@pytest.mark.prefect
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_prefect_server_started_again_gets_the_worker_back_to_flow_runs(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    from prefect.server.api.server import SubprocessASGIServer

    step = timedelta(seconds=1)
    register_ladder(engine, step)
    log = tmp_path / "worker.log"
    port = SubprocessASGIServer().find_available_port()
    per_case = len(expected_timed_events(T0 + 10 * step, step))
    with prefect_server(tmp_path, port) as (url, server):
        env = worker_env(tmp_path, db_url, url, step)
        process = start_worker(env, log, "--worker-id", "w1", "--no-serve")
        try:
            wait_until(lambda: heartbeat_mode(engine, "w1") == "prefect", 60, "the worker to use Prefect")
            first = open_cases(engine, 3, datetime.now(UTC))
            wait_until(lambda: "escalation-sweep (flow run)" in log.read_text(), 30, "a sweep in a flow run")
            server.kill()
            server.wait()
            wait_until(lambda: heartbeat_mode(engine, "w1") == "degraded", 10, "a degraded heartbeat")
            with prefect_server(tmp_path, port):  # the same port and PREFECT_HOME: the same server again
                wait_until(lambda: heartbeat_mode(engine, "w1") == "prefect", 60, "Prefect again")
                back = len(log.read_text())
                second = open_cases(engine, 3, datetime.now(UTC))
                done = lambda: len(timed_kinds_by_case(engine).get(second[-1], [])) >= per_case  # noqa: E731
                wait_until(done, 30, "every escalation of the cases opened since")
                after = log.read_text()[back:]
        finally:
            code, took = stop_within(process, STOP_LIMIT)
            print(log.read_text()[-6000:])
    assert "escalation-sweep (flow run)" in after, after  # flow runs again, on the restarted server
    # A blip while the restarted server warms up may pass; the worker ends up on Prefect.
    assert re.findall(r"orchestrator: (\w+)", after)[-1:] in ([], ["prefect"]), after
    assert_stopped_cleanly(code, took, worker_part_of_stop(log, 0))
    oracle = [kind for kind, _, _ in expected_timed_events(T0 + 10 * step, step)]
    assert timed_kinds_by_case(engine) == dict.fromkeys([*first, *second], oracle)
    assert_exactly_once(engine)
