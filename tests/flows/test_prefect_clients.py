"""The worker's flow runs borrow one pair of Prefect clients (flows/prefect_clients.py): built once
each time Prefect comes up, not twice per flow run, and the runs still complete in Prefect."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext

from flows.flow_runs import FlowRuns
from flows.orchestrator import Orchestrator
from flows.wake_loop import StopSignal

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]

#: What each run of ``which_clients`` found: (flow run id, its async client, its sync client).
SEEN: list[tuple[UUID, Any, Any]] = []


@flow(name="which-clients")
async def which_clients() -> None:
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None
    SEEN.append((context.flow_run.id, get_client(), get_client(sync_client=True)))


@asynccontextmanager
async def prefect_up(answering: threading.Event) -> AsyncIterator[FlowRuns]:
    """Flow runs on the test harness's Prefect, up once this yields; its orchestrator's probe says
    what ``answering`` says (set here), so the test turns Prefect down and up without stopping it.
    The worker's stop (``leave_abandoned``) follows the block."""
    from prefect.settings import PREFECT_API_URL

    async def probe(_url: str) -> bool:
        return answering.is_set()

    answering.set()
    orchestrator = Orchestrator(
        prepare=lambda: str(PREFECT_API_URL.value()), probe=probe, probe_every=timedelta(seconds=0.05)
    )
    stop = threading.Event()
    watching = asyncio.ensure_future(orchestrator.watch(StopSignal(stop)))
    flow_runs = FlowRuns(orchestrator)
    try:
        await until(lambda: orchestrator.available)
        yield flow_runs
    finally:
        await flow_runs.leave_abandoned()
        stop.set()
        await watching


async def until(predicate: Any, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def run_flows(flow_runs: FlowRuns, count: int) -> list[tuple[UUID, Any, Any]]:
    SEEN.clear()
    for _ in range(count):
        await flow_runs.unless_prefect_goes_away(which_clients(), patience=None)
    return list(SEEN)


async def states_in_prefect(ids: list[UUID]) -> list[str]:
    async with get_client() as client:  # a client of its own, outside any lent pair
        return [str((await client.read_flow_run(i)).state_name) for i in ids]


def test_flow_runs_share_one_pair_of_clients_while_prefect_stays_up() -> None:
    async def scenario() -> None:
        async with prefect_up(threading.Event()) as flow_runs:
            seen = await run_flows(flow_runs, 3)
            assert len({id(async_client) for _, async_client, _ in seen}) == 1
            assert len({id(sync_client) for _, _, sync_client in seen}) == 1
            assert await states_in_prefect([run_id for run_id, _, _ in seen]) == ["Completed"] * 3
            await flow_runs.leave_abandoned()  # the worker's stop closes them
            assert not flow_runs.clients.held

    asyncio.run(scenario())


def test_each_time_prefect_comes_back_the_flow_runs_get_a_new_pair_and_the_old_is_closed() -> None:
    async def scenario() -> None:
        answering = threading.Event()
        async with prefect_up(answering) as flow_runs:
            orchestrator = flow_runs.orchestrator
            [(_, first_async, first_sync)] = await run_flows(flow_runs, 1)
            answering.clear()
            await until(lambda: not orchestrator.available)
            answering.set()
            await until(lambda: orchestrator.available)
            [(run_id, second_async, second_sync)] = await run_flows(flow_runs, 1)
            assert second_async is not first_async and second_sync is not first_sync
            with pytest.raises(RuntimeError, match="cannot be started again"):
                await first_async.__aenter__()  # closed: Prefect's client refuses to start again
            assert await states_in_prefect([run_id]) == ["Completed"]

    asyncio.run(scenario())


def test_without_a_prefect_api_nothing_is_lent_and_a_flow_run_builds_its_own() -> None:
    from prefect.context import AsyncClientContext
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED, temporary_settings

    from flows.prefect_clients import PrefectClients

    async def scenario() -> None:
        clients = PrefectClients()
        with temporary_settings(updates={PREFECT_API_URL: None, PREFECT_SERVER_EPHEMERAL_ENABLED: False}):
            await clients.ready(1)  # Prefect's get_client refuses: no API and no temporary server
        assert not clients.held
        with clients.lent():
            assert AsyncClientContext.get() is None
        await clients.ready(2)  # Prefect is there again: a pair is built and lent
        assert clients.held
        with clients.lent():
            assert AsyncClientContext.get() is not None
        assert AsyncClientContext.get() is None  # lent only inside
        await clients.close()

    asyncio.run(scenario())
