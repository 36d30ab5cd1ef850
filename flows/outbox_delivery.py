"""Delivering claimed outbox rows: plain functions, the same with or without Prefect.

The `deliver-notifications` flow (flows/delivery.py) runs :func:`deliver_group` as one Prefect task
per channel; the worker without Prefect calls :func:`deliver_by_channel` with it directly. Every
notification is sent concurrently, at most ``per_channel`` at a time to one channel
(:class:`ChannelLimits`), each retried with exponential back-off and jitter until it is delivered or
its row is dead (``max_attempts`` counted in the row, across runs and restarts). Each attempt's
outcome is recorded after the request: deliveries together (flows/delivery_records.py), failures
each in its own transaction.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from casework.history.outbox import (
    OutboxItem,
    claim_due_notifications,
    pending_items,
    record_failed_attempt,
    record_undeliverable,
)
from flows.delivery_records import recorder_for
from flows.http_clients import DEFAULT_PER_CHANNEL, ClientShards, HttpClients
from flows.senders import UnknownChannelKind, channel_of, sender_for
from flows.webhooks import Clock, DeliveryFailed, DeliveryPolicy, Outcome, Undeliverable, WebhookTarget
from models.db import session_scope
from models.kinds import NotificationStatus

log = logging.getLogger("lifeline.worker")

#: Rows one delivery run claims. Each `deliver-notifications` flow run costs the Prefect server
#: seconds on a loaded 2-core machine (creating the run and a task per channel): with 50 rows per
#: run a worker delivered ~25 a second through Prefect and ~140 without; its channels' semaphores,
#: not the batch, bound what is sent at once.
DEFAULT_BATCH = 500
Sleep = Callable[[float], Awaitable[None]]


class ChannelLimits:
    """A semaphore per channel: deliveries run concurrently but never more than ``per_channel`` to
    one receiver at once. One per worker (its event loop), shared by its delivery runs: see
    :func:`shared_limits`."""

    def __init__(self, per_channel: int = DEFAULT_PER_CHANNEL) -> None:
        self.per_channel = per_channel
        self._limits: dict[str, asyncio.Semaphore] = {}

    def __getitem__(self, channel: str) -> asyncio.Semaphore:
        limit = self._limits.get(channel)
        if limit is None:
            limit = self._limits[channel] = asyncio.Semaphore(self.per_channel)
        return limit


_LIMITS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ChannelLimits] = weakref.WeakKeyDictionary()


def shared_limits() -> ChannelLimits:
    """The running event loop's limits, shared by every delivery run of a worker, with or without
    Prefect (its flow runs run on the worker's loop). Each `deliver-notifications` flow run had
    limits of its own, so four runs at once could put four times ``per_channel`` requests on a
    channel's clients (flows/http_clients.py), which hold ``per_channel`` connections: the rest
    waited inside httpx's pools rather than on the channel's semaphore."""
    loop = asyncio.get_running_loop()
    limits = _LIMITS.get(loop)
    if limits is None:
        limits = _LIMITS[loop] = ChannelLimits()
    return limits


def backoff_seconds(policy: DeliveryPolicy, failures: int, rng: random.Random | None = None) -> float:
    """The wait after the ``failures``-th failed attempt: ``backoff_factor * 2**(failures-1)``,
    give or take ``jitter_factor`` of it."""
    delay = float(policy.backoff_factor * 2 ** max(failures - 1, 0))
    jitter = (rng or random).uniform(-policy.jitter_factor, policy.jitter_factor)
    return max(delay * (1 + jitter), 0.0)


async def attempt_delivery(
    engine: Engine,
    client: HttpClients,
    targets: Mapping[str, WebhookTarget],
    item: OutboxItem,
    policy: DeliveryPolicy,
    clock: Clock,
) -> Outcome:
    """One attempt: send through the channel kind's sender, then record the outcome in its own
    transaction. Raises ``DeliveryFailed`` when the row stays pending for another attempt."""
    target = channel_of(targets, item.channel)
    if target is None:
        reason = f"channel {item.channel!r} has no webhook in the channels file (LIFELINE_CHANNELS_FILE)"
        return await _undeliverable(engine, item, clock(), reason)
    try:
        send = sender_for(target)
        http = client(item.channel) if isinstance(client, ClientShards) else client
        status_code, error = await send(engine, http, target, item, clock())
    except (UnknownChannelKind, Undeliverable) as exc:
        return await _undeliverable(engine, item, clock(), f"channel {item.channel!r}: {exc}")
    now = clock()
    if error is None:
        done = await recorder_for(engine).delivered(item.id, now, status_code or 200)
        return Outcome.DELIVERED if done else Outcome.SKIPPED
    retry_at = now + policy.lease
    status = await asyncio.to_thread(
        _record_failure, engine, item.id, now, error, policy.max_attempts, retry_at
    )
    if status is None:
        return Outcome.SKIPPED
    if status is NotificationStatus.DEAD:
        return Outcome.DEAD
    raise DeliveryFailed(f"notification {item.id} to {item.channel}: {error}")


async def deliver_with_retries(
    attempt: Callable[[], Awaitable[Outcome]], policy: DeliveryPolicy, sleep: Sleep = asyncio.sleep
) -> Outcome:
    """Attempt until delivered, dead or skipped, backing off between failures. After
    ``max_attempts`` failures in this call the row stays pending (it is retried after its lease)."""
    for failures in range(1, policy.max_attempts + 1):
        try:
            return await attempt()
        except DeliveryFailed:
            if failures == policy.max_attempts:
                break
            await sleep(backoff_seconds(policy, failures))
    return Outcome.RETRY


async def deliver_group(
    engine: Engine,
    client: HttpClients,
    targets: Mapping[str, WebhookTarget],
    items: Sequence[OutboxItem],
    policy: DeliveryPolicy,
    limit: asyncio.Semaphore,
    clock: Clock,
) -> Counter[str]:
    """Deliver ``items`` (one channel's) concurrently, at most ``limit`` at a time; counts per
    outcome. An unexpected error (the database went away) leaves its row pending, counted as retry."""

    async def one(item: OutboxItem) -> Outcome:
        async def attempt() -> Outcome:
            async with limit:
                return await attempt_delivery(engine, client, targets, item, policy, clock)

        try:
            return await deliver_with_retries(attempt, policy)
        except Exception as exc:
            log.error("notification %s to %s: %s: %s", item.id, item.channel, type(exc).__name__, exc)
            return Outcome.RETRY

    outcomes = await asyncio.gather(*(one(item) for item in items))
    return Counter(str(outcome) for outcome in outcomes)


#: Delivers one channel's items; returns counts per outcome.
GroupRunner = Callable[[str, list[OutboxItem]], Awaitable[Mapping[str, int]]]


async def deliver_by_channel(items: Sequence[OutboxItem], run_group: GroupRunner) -> dict[str, int]:
    """Group ``items`` by channel and run each group concurrently; the summed counts plus
    ``claimed``."""
    groups: dict[str, list[OutboxItem]] = defaultdict(list)
    for item in items:
        groups[item.channel].append(item)
    results = await asyncio.gather(*(run_group(channel, group) for channel, group in groups.items()))
    counts: Counter[str] = Counter({"claimed": len(items)})
    for result in results:
        counts.update(result)
    return dict(counts)


def plain_group_runner(
    engine: Engine,
    client: HttpClients,
    targets: Mapping[str, WebhookTarget],
    policy: DeliveryPolicy,
    limits: ChannelLimits,
    clock: Clock,
) -> GroupRunner:
    """Groups delivered outside any flow run (the worker without Prefect)."""

    async def run(channel: str, group: list[OutboxItem]) -> Counter[str]:
        return await deliver_group(engine, client, targets, group, policy, limits[channel], clock)

    return run


def claim_batch(engine: Engine, limit: int, lease: timedelta, now: datetime) -> list[OutboxItem]:
    """Lease up to ``limit`` due notifications to the caller in one short transaction."""
    with session_scope(engine) as session:
        return claim_due_notifications(session, now, limit, lease)


def still_pending(engine: Engine, ids: list[int]) -> list[OutboxItem]:
    """The given rows that are still pending (a flow run handed ids already claimed for it)."""
    with session_scope(engine, write=False) as session:
        return pending_items(session, ids)


def _record_failure(
    engine: Engine, notification_id: int, now: datetime, error: str, max_attempts: int, retry_at: datetime
) -> NotificationStatus | None:
    with session_scope(engine) as session:
        return record_failed_attempt(session, notification_id, now, error, max_attempts, retry_at)


def _record_undeliverable(engine: Engine, notification_id: int, now: datetime, error: str) -> bool:
    with session_scope(engine) as session:
        return record_undeliverable(session, notification_id, now, error)


async def _undeliverable(engine: Engine, item: OutboxItem, now: datetime, reason: str) -> Outcome:
    done = await asyncio.to_thread(_record_undeliverable, engine, item.id, now, reason)
    return Outcome.DEAD if done else Outcome.SKIPPED


def summary(counts: Mapping[str, Any]) -> str:
    """``claimed=3 delivered=2 dead=1`` for log lines."""
    return " ".join(f"{name}={value}" for name, value in sorted(counts.items()))
