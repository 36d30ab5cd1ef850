"""The worker's patience bounds Prefect's part of a flow run, not the work (flows/run_progress.py):
a sweep longer than the patience is awaited to its end, while a run whose body does not begin, or
whose end is not recorded, within the patience is given up on and left to finish on its own."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from prefect import flow

from flows.run_progress import flow_body
from tests.flows.test_prefect_clients import prefect_up, until

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]

PATIENCE = timedelta(seconds=1.5)  # a test harness busy with earlier tests starts runs slowly
#: Well beyond the patience, even on a loaded machine's event loop.
LONG = 4.0


@flow(name="warm-up")
async def warm_up() -> None:
    """This process's first flow run loads Prefect's engines (~1 s): paid before any patience."""


@flow(name="long-work")
async def long_work() -> str:
    with flow_body():
        await asyncio.sleep(LONG)
    return "swept"


@flow(name="unmarked")
async def unmarked() -> str:
    """A run whose body never begins, as far as the worker can tell (Prefect too busy to start it)."""
    await asyncio.sleep(LONG)
    return "late"


@flow(name="slow-to-finish")
async def slow_to_finish() -> str:
    """The work is done at once; what follows it (Prefect recording the run's end) is slow."""
    with flow_body():
        pass
    await asyncio.sleep(LONG)
    return "late"


def test_work_longer_than_the_patience_is_awaited_to_its_end() -> None:
    async def scenario() -> None:
        async with prefect_up(threading.Event()) as flow_runs:
            await flow_runs.unless_prefect_goes_away(warm_up(), patience=None)
            assert await flow_runs.unless_prefect_goes_away(long_work(), PATIENCE) == "swept"
            assert not flow_runs.abandoned

    asyncio.run(scenario())


@pytest.mark.parametrize("late", [unmarked, slow_to_finish], ids=["not-begun", "not-finished"])
def test_a_run_whose_prefect_part_outlasts_the_patience_is_given_up_on_and_left_running(late: object) -> None:
    async def scenario() -> None:
        async with prefect_up(threading.Event()) as flow_runs:
            await flow_runs.unless_prefect_goes_away(warm_up(), patience=None)
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert await flow_runs.unless_prefect_goes_away(late(), PATIENCE) is None  # type: ignore[operator]
            assert loop.time() - started < LONG  # not waited for
            assert flow_runs.abandoned
            await until(lambda: not flow_runs.abandoned, timeout=30)  # it finished on its own

    asyncio.run(scenario())


def test_a_run_given_up_on_when_prefect_went_away_is_cancelled_when_it_comes_back() -> None:
    """Its client would retry with back-off for up to a minute, and while it goes on the worker
    starts no flow run: a restarted Prefect server would get its sweeps back that much later."""

    async def scenario() -> None:
        answering = threading.Event()
        async with prefect_up(answering) as flow_runs:
            orchestrator = flow_runs.orchestrator
            await flow_runs.unless_prefect_goes_away(warm_up(), patience=None)
            started = asyncio.get_running_loop().time()
            run = asyncio.ensure_future(flow_runs.unless_prefect_goes_away(long_work(), patience=None))
            await asyncio.sleep(0.5)  # the run is under way
            answering.clear()  # Prefect goes away: the run is given up on
            assert await run is None and flow_runs.abandoned
            assert flow_runs.too_slow()  # still going, and Prefect has not come back
            answering.set()
            await until(lambda: orchestrator.available)
            assert not flow_runs.too_slow()  # cancelled, not awaited
            await until(lambda: not flow_runs.abandoned, timeout=LONG / 2)
            assert asyncio.get_running_loop().time() - started < LONG

    asyncio.run(scenario())


def test_a_run_given_up_on_while_prefect_stays_up_holds_off_new_runs_until_it_ends() -> None:
    async def scenario() -> None:
        async with prefect_up(threading.Event()) as flow_runs:
            await flow_runs.unless_prefect_goes_away(warm_up(), patience=None)
            assert await flow_runs.unless_prefect_goes_away(unmarked(), PATIENCE) is None
            assert flow_runs.too_slow()  # Prefect is slow, not gone: the run is left to end
            await until(lambda: not flow_runs.too_slow(), timeout=30)
            assert not flow_runs.abandoned

    asyncio.run(scenario())
