"""The `deliver-notifications` flow: send due outbox rows to their channels.

One flow run delivers the rows the worker claimed for it (or, started from the Prefect UI, claims up
to ``limit`` due rows itself), one Prefect task per channel (``deliver-channel``) running
``flows.outbox_delivery.deliver_group``: every notification concurrently, bounded per channel,
retried with back-off. A notification that exhausts its attempts is a dead letter
(``notification_failed`` in its case's history) and makes its task run and the flow run Failed, so
the Prefect UI shows what was not delivered. The worker without Prefect runs the same functions
outside a flow run (flows/worker.py).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import Awaitable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.utilities.annotations import quote
from sqlalchemy import Engine

from casework.history.outbox import OutboxItem
from casework.settings import get_settings
from flows.database import engine_for
from flows.http_clients import HttpClients, shared_clients
from flows.outbox_delivery import (
    DEFAULT_BATCH,
    ChannelLimits,
    claim_batch,
    deliver_by_channel,
    deliver_group,
    shared_limits,
    still_pending,
    summary,
)
from flows.wake_loop import Clock, utc_now
from flows.webhooks import DeliveryPolicy, Outcome, WebhookTarget, load_targets

T = TypeVar("T")

__all__ = ["DEFAULT_BATCH", "DeliveriesFailed", "deliver_due", "deliver_notifications"]


class DeliveriesFailed(RuntimeError):
    """Some notifications are dead letters: the task (one channel) or flow run ends Failed.
    ``counts`` holds what the run did, by outcome."""

    def __init__(self, counts: Mapping[str, int], channel: str | None = None) -> None:
        self.counts = dict(counts)
        where = f" to {channel}" if channel else ""
        super().__init__(
            f"{self.counts.get('dead', 0)} notification(s){where} undeliverable: {summary(counts)}"
        )


@task(name="deliver-channel", cache_policy=NO_CACHE, log_prints=False)
async def deliver_channel(
    engine: Engine,
    client: HttpClients,
    targets: Mapping[str, WebhookTarget],
    channel: str,
    items: list[OutboxItem],
    policy: DeliveryPolicy,
    limits: ChannelLimits,
    clock: Clock,
) -> dict[str, int]:
    """One channel's notifications; Failed (``DeliveriesFailed``) when any of them is dead."""
    counts = await deliver_group(engine, client, targets, items, policy, limits[channel], clock)
    if counts.get(str(Outcome.DEAD)):
        raise DeliveriesFailed(counts, channel)
    return dict(counts)


async def deliver_due(
    engine: Engine,
    targets: Mapping[str, WebhookTarget],
    policy: DeliveryPolicy,
    *,
    notification_ids: list[int] | None = None,
    limit: int = DEFAULT_BATCH,
    limits: ChannelLimits | None = None,
    clock: Clock = utc_now,
) -> dict[str, int]:
    """Deliver the given (already claimed) notifications, or claim up to ``limit`` due ones; counts
    per outcome. Call it inside a flow run (its tasks are Prefect tasks)."""
    if notification_ids is None:
        items = await asyncio.to_thread(claim_batch, engine, limit, policy.lease, clock())
    else:
        items = await asyncio.to_thread(still_pending, engine, notification_ids)
    if not items:
        return {"claimed": 0}
    channel_limits = limits or shared_limits()
    client = shared_clients(policy.timeout_seconds)

    async def run_group(channel: str, group: list[OutboxItem]) -> Counter[str]:
        # Quoted: Prefect otherwise walks every parameter twice per task run looking for futures to
        # wait on (every item, every payload field): ~70 ms of the event loop per 500 rows, on
        # the way to the first request. The task receives them unquoted.
        items, channel_targets = _opaque(group), _opaque(targets)
        run = deliver_channel(
            engine, client, channel_targets, channel, items, policy, channel_limits, clock, return_state=True
        )
        return await _counts(await cast("Awaitable[State[Any]]", run), len(group))

    return await deliver_by_channel(items, run_group)


def _opaque(value: T) -> T:
    """``value`` wrapped in Prefect's ``quote`` (typed as itself: the task receives it unwrapped)."""
    return cast(T, quote(value))


async def _counts(state: State[Any], size: int) -> Counter[str]:
    """A channel task's counts: its result, the counts of its ``DeliveriesFailed``, or (any other
    failure) every row left pending for a later run."""
    result = state.result(raise_on_failure=False)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, DeliveriesFailed):
        return Counter(result.counts)
    if isinstance(result, Mapping):
        return Counter(result)
    return Counter({str(Outcome.RETRY): size})


@flow(name="deliver-notifications", log_prints=False)
async def deliver_notifications(
    notification_ids: list[int] | None = None,
    database_url: str | None = None,
    channels_file: str | None = None,
    limit: int = DEFAULT_BATCH,
    max_attempts: int = DeliveryPolicy.max_attempts,
    backoff_factor: float = DeliveryPolicy.backoff_factor,
    timeout_seconds: float = DeliveryPolicy.timeout_seconds,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Deliver outbox rows; returns how many were claimed, delivered, retried, skipped. Raises
    ``DeliveriesFailed`` (the run is Failed) when any became a dead letter.

    The worker claims rows itself and passes their ``notification_ids``; run without ids (from the
    Prefect UI, say) the flow claims up to ``limit`` due rows. ``channels_file`` defaults to
    LIFELINE_CHANNELS_FILE; ``database_url`` to the worker's database (flows/database.py).
    ``now`` (like the sweep's) is the instant every attempt is recorded and signed at: the worker
    passes its injected clock's reading (tests); default the wall clock at each attempt.
    """
    path = Path(channels_file) if channels_file else get_settings().channels_file
    policy = DeliveryPolicy(max_attempts, timeout_seconds, backoff_factor)
    targets = dict(load_targets(path))
    engine = engine_for(database_url)
    clock: Clock = utc_now if now is None else (lambda: now)
    counts = await deliver_due(
        engine, targets, policy, notification_ids=notification_ids, limit=limit, clock=clock
    )
    if counts.get(str(Outcome.DEAD)):
        raise DeliveriesFailed(counts)
    return dict(counts)
