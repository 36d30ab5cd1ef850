"""Dead notifications recovered: `lifeline notifications redeliver` and POST /v1/notifications/
redeliver queue them again with the same notification_id, the worker's delivery sends them, and the
case's history says who asked and what happened, each event once."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlmodel import col, select
from typer.testing import CliRunner

from casework.history.outbox import claim_due_notifications
from cli.main import app
from flows.outbox_delivery import ChannelLimits, deliver_by_channel, plain_group_runner
from flows.sweep_batches import sweep_batch
from flows.webhooks import DeliveryPolicy, Webhook, WebhookTarget
from models.db import session_scope
from models.kinds import NotificationStatus
from models.tables import CaseEvent, Notification
from sla_engine.kinds import EventKind
from tests.casework.builders import T0
from tests.flows.conftest import WEBHOOK_SECRET
from tests.flows.scenarios import STEP, assert_exactly_once, open_cases, register_ladder
from tests.flows.webhook_receiver import ReceiverState

runner = CliRunner()
POLICY = DeliveryPolicy(max_attempts=2, backoff_factor=0.01)


def deliver_due(engine: Engine, targets: Mapping[str, WebhookTarget]) -> dict[str, int]:
    """What the worker does without Prefect: claim the due rows, deliver them by channel."""
    now = datetime.now(UTC)

    async def run() -> dict[str, int]:
        with session_scope(engine) as session:
            items = claim_due_notifications(session, now, 100, POLICY.lease)
        async with httpx.AsyncClient(timeout=POLICY.timeout_seconds) as client:
            group = plain_group_runner(engine, client, targets, POLICY, ChannelLimits(), lambda: now)
            return await deliver_by_channel(items, group)

    return asyncio.run(run())


def delivery_history(engine: Engine, case_id: str) -> list[tuple[EventKind, str, str | None]]:
    kinds = (
        EventKind.NOTIFICATION_DELIVERED,
        EventKind.NOTIFICATION_FAILED,
        EventKind.NOTIFICATION_REDELIVERED,
    )
    with session_scope(engine, write=False) as session:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id, col(CaseEvent.kind).in_(kinds))
        return [(e.kind, e.actor, e.dedupe_key) for e in session.exec(query.order_by(col(CaseEvent.seq)))]


def test_a_dead_notification_redelivered_reaches_the_receiver_with_the_same_id(
    engine: Engine, db_url: str, receiver: tuple[str, ReceiverState]
) -> None:
    url, state = receiver
    register_ladder(engine, STEP)
    [case_id] = open_cases(engine, 1, T0)
    sweep_batch(engine, T0 + 2 * STEP)  # the first-response breach: one notification, support-leads
    assert deliver_due(engine, {}) == {"claimed": 1, "dead": 1}  # no channel configured: dropped

    result = runner.invoke(app, ["notifications", "redeliver", "--case", case_id, "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert "Queued 1 notification(s) again" in result.stdout

    state.fail_next = 2  # the receiver is still down: it fails again, after its two attempts
    assert deliver_due(engine, {"support-leads": Webhook(url, WEBHOOK_SECRET)}) == {"claimed": 1, "dead": 1}
    again = runner.invoke(app, ["notifications", "redeliver", "--database-url", db_url])
    assert again.exit_code == 0 and "Queued 1" in again.stdout
    assert deliver_due(engine, {"support-leads": Webhook(url, WEBHOOK_SECRET)}) == {
        "claimed": 1,
        "delivered": 1,
    }

    with session_scope(engine, write=False) as session:
        [row] = session.exec(select(Notification)).all()
    assert (row.status, row.redeliveries, row.attempts) == (NotificationStatus.DELIVERED, 2, 1)
    assert {r.body["notification_id"] for r in state.received} == {row.id}
    assert state.accepted_ids() == [row.id]
    history = delivery_history(engine, case_id)
    assert [kind for kind, _, _ in history] == [
        EventKind.NOTIFICATION_FAILED,
        EventKind.NOTIFICATION_REDELIVERED,
        EventKind.NOTIFICATION_FAILED,
        EventKind.NOTIFICATION_REDELIVERED,
        EventKind.NOTIFICATION_DELIVERED,
    ]
    assert history[1][1].startswith("operator:")
    assert_exactly_once(engine)  # every dedupe key once, every hash chain intact


def test_redeliver_without_dead_notifications_changes_nothing(engine: Engine, db_url: str) -> None:
    register_ladder(engine, STEP)
    open_cases(engine, 1, T0)
    result = runner.invoke(app, ["notifications", "redeliver", "--database-url", db_url])
    assert result.exit_code == 0 and "No dead notification" in result.stdout


def test_redeliver_refuses_an_unknown_case_and_a_bad_instant(engine: Engine, db_url: str) -> None:
    unknown = runner.invoke(
        app, ["notifications", "redeliver", "--case", "cs_nope", "--database-url", db_url]
    )
    bad = runner.invoke(app, ["notifications", "redeliver", "--since", "yesterday", "--database-url", db_url])
    assert unknown.exit_code == 2 and "cs_nope" in unknown.stderr
    assert bad.exit_code == 2 and "--since" in bad.stderr


def test_redeliver_since_leaves_older_dead_notifications_alone(engine: Engine, db_url: str) -> None:
    register_ladder(engine, STEP)
    open_cases(engine, 2, T0)
    sweep_batch(engine, T0 + 2 * STEP)
    deliver_due(engine, {})
    with session_scope(engine) as session:
        rows = session.exec(select(Notification).order_by(col(Notification.id))).all()
        rows[0].created_at = T0 - timedelta(days=1)
        session.add(rows[0])
        newer = rows[1].id
    since = T0.isoformat()
    result = runner.invoke(app, ["notifications", "redeliver", "--since", since, "--database-url", db_url])
    assert result.exit_code == 0 and f"Queued 1 notification(s) again: {newer}." in result.stdout
