"""The `escalation-sweep` and `deliver-notifications` flows under a real (test) Prefect server, with a
real webhook receiver on 127.0.0.1 that verifies every signature."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import State
from sqlalchemy import Engine
from sqlmodel import col, select

from flows.delivery import DeliveriesFailed, deliver_notifications
from flows.outbox_delivery import shared_limits
from flows.sweep import escalation_sweep
from flows.sweep_batches import reporting_progress
from flows.sweep_counts import SweepCounts
from models.db import session_scope
from models.kinds import NotificationStatus
from models.tables import CaseEvent, Notification
from sla_engine.kinds import EventKind
from tests.casework.builders import T0
from tests.flows.conftest import WEBHOOK_SECRET
from tests.flows.scenarios import CHANNELS, assert_exactly_once, open_cases, register_ladder
from tests.flows.webhook_receiver import ReceiverState

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]

STEP = timedelta(seconds=2)


def channels_file(tmp_path: Path, url: str, names: tuple[str, ...] = CHANNELS) -> str:
    path = tmp_path / "channels.json"
    webhooks = {n: {"url": f"{url}/{n}", "secret": WEBHOOK_SECRET} for n in names}
    path.write_text(json.dumps({"channels": webhooks}))
    return str(path)


async def task_run_names(flow_run_id: Any) -> list[str]:
    async with get_client() as client:
        only_this_run = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        runs = await client.read_task_runs(flow_run_filter=only_this_run)
    return sorted(r.name.rsplit("-", 1)[0] for r in runs)


async def task_run_states(flow_run_id: Any) -> list[tuple[str, str]]:
    async with get_client() as client:
        only_this_run = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        runs = await client.read_task_runs(flow_run_filter=only_this_run)
    return sorted((r.name.rsplit("-", 1)[0], str(r.state_type.value)) for r in runs if r.state_type)


def notifications(engine: Engine) -> list[Notification]:
    with session_scope(engine, write=False) as session:
        return list(session.exec(select(Notification).order_by(col(Notification.id))))


def history_kinds(engine: Engine, kind: EventKind) -> list[CaseEvent]:
    with session_scope(engine, write=False) as session:
        return list(session.exec(select(CaseEvent).where(CaseEvent.kind == kind)))


def swept_ladder(engine: Engine, db_url: str, cases: int, opened: datetime, steps: int) -> None:
    """The scenario of the delivery tests: ``cases`` ladder cases opened at ``opened`` and swept
    ``steps`` steps later by a real flow run, their notifications queued."""
    register_ladder(engine, STEP)
    open_cases(engine, cases, opened)
    asyncio.run(escalation_sweep(database_url=db_url, now=opened + steps * STEP))


def test_one_sweep_flow_run_escalates_hundreds_of_cases_in_batch_tasks(engine: Engine, db_url: str) -> None:
    register_ladder(engine, STEP)
    open_cases(engine, 450, T0)

    reported: list[SweepCounts] = []
    run = escalation_sweep(  # type: ignore[call-overload]
        database_url=db_url, batch_size=200, batches_per_task=2, now=T0 + 3 * STEP, return_state=True
    )
    with reporting_progress(reported.append):  # the worker wakes its deliveries so, task by task
        state: State[dict[str, Any]] = asyncio.run(cast("Coroutine[Any, Any, State[dict[str, Any]]]", run))
    result = state.result()

    # On PostgreSQL two lanes claiming the last 50 together may split them (SKIP LOCKED): 3 or 4.
    assert result["batches"] == 3 or (db_url.startswith("postgresql") and result["batches"] == 4)
    assert {k: result[k] for k in ("cases", "changed_cases", "breaches", "notifications")} == {
        "cases": 450,
        "changed_cases": 450,
        "breaches": 900,
        "notifications": 900,
    }
    assert result["events"] == 450 * 6  # at risk, breach + notify, stage breach + escalation + notify
    assert result["max_lateness_seconds"] == (2 * STEP).total_seconds()
    # Two batches in the first task, the third (short: nothing more is due) in the second.
    assert asyncio.run(task_run_names(state.state_details.flow_run_id)) == ["sweep-batches"] * 2
    # Each task's counts reached the caller's callback as the task ended, inside the flow run.
    assert [(r.cases, r.notifications) for r in reported] == [(400, 800), (50, 100)]
    assert_exactly_once(engine)


def test_notifications_reach_the_webhook_signed_once_each_and_are_recorded_in_history(
    engine: Engine, db_url: str, tmp_path: Path, receiver: tuple[str, ReceiverState]
) -> None:
    url, state = receiver
    swept_ladder(engine, db_url, 5, T0, 3)

    path = channels_file(tmp_path, url)
    result = asyncio.run(deliver_notifications(database_url=db_url, channels_file=path))

    rows = notifications(engine)
    assert result == {"claimed": 10, "delivered": 10}
    assert all(r.status is NotificationStatus.DELIVERED and r.attempts == 1 for r in rows)
    assert sorted(state.accepted_ids()) == [r.id for r in rows]
    assert all(r.signature_ok for r in state.received)
    body = next(r.body for r in state.received if r.body["notification_id"] == rows[0].id)
    assert body["case_id"] == rows[0].case_id and body["kind"] == "notified"
    assert body["channel"] == rows[0].channel and body["event"]["channel"] == rows[0].channel
    delivered = history_kinds(engine, EventKind.NOTIFICATION_DELIVERED)
    assert sorted(e.data["notification_id"] for e in delivered) == [r.id for r in rows]
    assert asyncio.run(deliver_notifications(database_url=db_url, channels_file=path)) == {"claimed": 0}
    assert_exactly_once(engine)


def test_a_delivery_flow_run_waits_on_the_workers_bound_per_channel(
    engine: Engine, db_url: str, tmp_path: Path, receiver: tuple[str, ReceiverState]
) -> None:
    # Flow runs run on the worker's event loop and share its semaphores (one per channel): with
    # every permit held elsewhere on the loop, a flow run sends nothing until they are given back.
    url, state = receiver
    swept_ladder(engine, db_url, 2, T0, 3)
    path = channels_file(tmp_path, url)

    async def held_then_released() -> tuple[int, dict[str, Any]]:
        limits = shared_limits()
        permits = [limits[name] for name in CHANNELS for _ in range(limits.per_channel)]
        for permit in permits:
            await permit.acquire()
        run = asyncio.ensure_future(deliver_notifications(database_url=db_url, channels_file=path))
        for _ in range(60):  # 3 s: time enough for a flow run to start and send, were it free to
            await asyncio.sleep(0.05)
            if state.received or run.done():
                break
        sent_meanwhile = len(state.received)
        for permit in permits:
            permit.release()
        return sent_meanwhile, await run

    sent_meanwhile, result = asyncio.run(held_then_released())

    assert sent_meanwhile == 0
    assert result == {"claimed": 4, "delivered": 4}
    assert len(state.accepted_ids()) == 4


def test_the_delivery_flow_records_and_signs_at_the_injected_instant(
    engine: Engine, db_url: str, tmp_path: Path, receiver: tuple[str, ReceiverState]
) -> None:
    # The worker passes its injected clock's reading, as it does to the sweep. Near the wall clock:
    # the receiver checks signatures against its own (5 minutes' tolerance).
    opened = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    url, state = receiver
    swept_ladder(engine, db_url, 2, opened, 3)
    injected = opened + timedelta(minutes=1, seconds=7)

    result = asyncio.run(
        deliver_notifications(database_url=db_url, channels_file=channels_file(tmp_path, url), now=injected)
    )

    assert result == {"claimed": 4, "delivered": 4}
    assert {r.delivered_at for r in notifications(engine)} == {injected}
    assert {e.at for e in history_kinds(engine, EventKind.NOTIFICATION_DELIVERED)} == {injected}
    assert all(r.signature_ok for r in state.received) and len(state.received) == 4
    assert {r.signed_at for r in state.received} == {int(injected.timestamp())}


def test_a_failing_webhook_is_retried_with_backoff_then_delivered(
    engine: Engine, db_url: str, tmp_path: Path, receiver: tuple[str, ReceiverState]
) -> None:
    url, state = receiver
    swept_ladder(engine, db_url, 1, T0, 2)  # one notification
    state.fail_next = 2
    path = channels_file(tmp_path, url)

    result = asyncio.run(deliver_notifications(database_url=db_url, channels_file=path, backoff_factor=0.01))

    [row] = notifications(engine)
    assert result == {"claimed": 1, "delivered": 1}
    assert row.status is NotificationStatus.DELIVERED and row.attempts == 3
    assert [r.error for r in state.received] == ["receiver told to fail", "receiver told to fail", None]
    assert len(history_kinds(engine, EventKind.NOTIFICATION_DELIVERED)) == 1
    assert history_kinds(engine, EventKind.NOTIFICATION_FAILED) == []


def test_after_its_last_attempt_a_notification_is_a_dead_letter_recorded_in_history(
    engine: Engine, db_url: str, tmp_path: Path, receiver: tuple[str, ReceiverState]
) -> None:
    url, state = receiver
    swept_ladder(engine, db_url, 1, T0, 2)
    state.fail_next = 100
    path = channels_file(tmp_path, url)

    flow_run = deliver_notifications(  # type: ignore[call-overload]
        database_url=db_url, channels_file=path, max_attempts=3, backoff_factor=0.01, return_state=True
    )
    run: State[Any] = asyncio.run(flow_run)  # type: ignore[arg-type]

    # The flow run is Failed (so the Prefect UI shows it), and so is the channel's task run.
    assert run.is_failed()
    failure = run.result(raise_on_failure=False)
    assert isinstance(failure, DeliveriesFailed)
    result = failure.counts
    [row] = notifications(engine)
    assert result == {"claimed": 1, "dead": 1}
    assert asyncio.run(task_run_states(run.state_details.flow_run_id)) == [("deliver-channel", "FAILED")]
    assert row.status is NotificationStatus.DEAD and row.attempts == 3 and "503" in (row.last_error or "")
    assert len(state.received) == 3
    [failed] = history_kinds(engine, EventKind.NOTIFICATION_FAILED)
    assert failed.data["notification_id"] == row.id and failed.data["attempts"] == 3
    assert_exactly_once(engine)


def test_a_channel_without_a_webhook_is_dead_lettered_at_once_with_the_reason(
    engine: Engine, db_url: str, tmp_path: Path, receiver: tuple[str, ReceiverState]
) -> None:
    url, state = receiver
    swept_ladder(engine, db_url, 1, T0, 2)

    path = channels_file(tmp_path, url, names=("tns-leads",))
    with pytest.raises(DeliveriesFailed) as failed:
        asyncio.run(deliver_notifications(database_url=db_url, channels_file=path))
    result = failed.value.counts

    [row] = notifications(engine)
    assert result == {"claimed": 1, "dead": 1} and state.received == []
    assert row.status is NotificationStatus.DEAD and "support-leads" in (row.last_error or "")
    assert len(history_kinds(engine, EventKind.NOTIFICATION_FAILED)) == 1
