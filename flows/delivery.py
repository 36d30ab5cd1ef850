"""The `deliver-notifications` flow: send due outbox rows to their channels' webhooks.

One flow run claims up to ``limit`` due rows (leased to this worker) and delivers them concurrently,
one Prefect task per notification, each with task retries on exponential back-off with jitter; after
``max_attempts`` failures in all (counted in the row, across runs and restarts) the row is a dead
letter and ``notification_failed`` is written to the case's history. See flows/webhooks.py for what a
crash between sending and recording does.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import Awaitable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.tasks import exponential_backoff
from sqlalchemy import Engine

from casework.history.outbox import OutboxItem, claim_due_notifications, pending_items
from casework.settings import get_settings
from flows.channel_dispatch import dispatch
from flows.database import engine_for
from flows.wake_loop import Clock, utc_now
from flows.webhooks import (
    DeliveryPolicy,
    Outcome,
    WebhookTarget,
    load_targets,
)
from models.db import session_scope

DEFAULT_BATCH = 50


@task(name="deliver-notification", cache_policy=NO_CACHE, log_prints=False)
async def deliver_one(
    engine: Engine,
    client: httpx.AsyncClient,
    targets: dict[str, WebhookTarget],
    item: OutboxItem,
    policy: DeliveryPolicy,
    clock: Clock,
) -> str:
    """One notification, sent by its channel's kind (flows/channel_dispatch.py); raises
    ``DeliveryFailed`` on a failure that may be retried."""
    return str(await dispatch(engine, client, targets, item, policy, clock))


def claim_batch(engine: Engine, limit: int, lease: timedelta, now: datetime) -> list[OutboxItem]:
    """Lease up to ``limit`` due notifications to the caller in one short transaction."""
    with session_scope(engine) as session:
        return claim_due_notifications(session, now, limit, lease)


def _still_pending(engine: Engine, ids: list[int]) -> list[OutboxItem]:
    with session_scope(engine, write=False) as session:
        return pending_items(session, ids)


async def deliver_due(
    engine: Engine,
    targets: dict[str, WebhookTarget],
    policy: DeliveryPolicy,
    *,
    notification_ids: list[int] | None = None,
    limit: int = DEFAULT_BATCH,
    clock: Clock = utc_now,
) -> dict[str, int]:
    """Deliver the given (already claimed) notifications, or claim up to ``limit`` due ones; counts
    per outcome. Call it inside a flow run (its tasks are Prefect tasks)."""
    if notification_ids is None:
        items = await asyncio.to_thread(claim_batch, engine, limit, policy.lease, clock())
    else:
        items = await asyncio.to_thread(_still_pending, engine, notification_ids)
    if not items:
        return {"claimed": 0}
    retrying = deliver_one.with_options(
        retries=max(policy.max_attempts - 1, 0),
        retry_delay_seconds=exponential_backoff(backoff_factor=policy.backoff_factor),
        retry_jitter_factor=policy.jitter_factor,
    )
    async with httpx.AsyncClient(timeout=policy.timeout_seconds) as client:
        # An async task called with return_state=True gives an awaitable of its final State.
        runs = [
            cast(
                "Awaitable[State[Any]]",
                retrying(engine, client, targets, item, policy, clock, return_state=True),
            )
            for item in items
        ]
        states: list[State[Any]] = await asyncio.gather(*runs)
    counts: Counter[str] = Counter({"claimed": len(items)})
    for state in states:
        counts[await _outcome(state)] += 1
    return dict(counts)


async def _outcome(state: State[Any]) -> str:
    """A task's outcome; a task that failed after its retries left its row pending for later."""
    if not state.is_completed():
        return str(Outcome.RETRY)
    result = state.result(raise_on_failure=False)
    if inspect.isawaitable(result):
        result = await result
    return str(result)


@flow(name="deliver-notifications", log_prints=False)
async def deliver_notifications(
    notification_ids: list[int] | None = None,
    database_url: str | None = None,
    channels_file: str | None = None,
    limit: int = DEFAULT_BATCH,
    max_attempts: int = DeliveryPolicy.max_attempts,
    backoff_factor: float = DeliveryPolicy.backoff_factor,
    timeout_seconds: float = DeliveryPolicy.timeout_seconds,
) -> dict[str, Any]:
    """Deliver outbox rows; returns how many were claimed, delivered, retried, dead, skipped.

    The worker claims rows itself and passes their ``notification_ids``; run without ids (from the
    Prefect UI, say) the flow claims up to ``limit`` due rows. ``channels_file`` defaults to
    LIFELINE_CHANNELS_FILE; ``database_url`` to the worker's database (flows/database.py).
    """
    path = Path(channels_file) if channels_file else get_settings().channels_file
    policy = DeliveryPolicy(max_attempts, timeout_seconds, backoff_factor)
    targets = dict(load_targets(path))
    engine = engine_for(database_url)
    counts = await deliver_due(engine, targets, policy, notification_ids=notification_ids, limit=limit)
    return dict(counts)
