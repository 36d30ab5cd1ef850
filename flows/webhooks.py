"""Sending one notification to its channel's webhook (plain functions: no Prefect, no retries here).

``deliver_notifications`` (flows/delivery.py) wraps ``attempt_delivery`` in a Prefect task with
retries; each attempt's outcome is recorded by the outbox service in its own transaction, after the
request, so a crash in between may resend (the receiver de-duplicates by ``notification_id``) but never
loses the record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import httpx
from sqlalchemy import Engine

from casework.history.outbox import (
    OutboxItem,
    record_delivered,
    record_failed_attempt,
    record_undeliverable,
)
from flows.signing import encode_body, signed_headers
from models.db import session_scope
from models.kinds import NotificationStatus
from policies.channels import load_channels

Clock = Callable[[], datetime]


class WebhookTarget(Protocol):
    """Where a channel's notifications go (``policies.channels.Channel`` has this shape)."""

    @property
    def url(self) -> str: ...

    @property
    def secret(self) -> str: ...


@dataclass(frozen=True)
class Webhook:
    url: str
    secret: str


class Outcome(StrEnum):
    DELIVERED = "delivered"
    #: Failed this time; the row stays pending and will be tried again.
    RETRY = "retry"
    DEAD = "dead"
    #: Another worker recorded this row meanwhile; nothing was written.
    SKIPPED = "skipped"


class DeliveryFailed(RuntimeError):
    """One attempt failed and the row may be retried (raised so Prefect's task retries apply)."""


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard to try: ``max_attempts`` in all (then dead letter), each request's ``timeout``, and
    the exponential back-off between attempts (``backoff_factor`` * 2**n seconds, with jitter)."""

    max_attempts: int = 5
    timeout_seconds: float = 10.0
    backoff_factor: float = 2.0
    jitter_factor: float = 0.5
    #: A claimed row is left to its worker this long (plus the next back-off) before others retry it.
    lease: timedelta = timedelta(seconds=60)


def load_targets(path: Path | None) -> Mapping[str, WebhookTarget]:
    """The channels file's webhooks, read by the one parser of that file
    (``policies.channels.load_channels``: ValueError naming the problem); none without a file."""
    if path is None:
        return {}
    targets: Mapping[str, WebhookTarget] = load_channels(path)
    return targets


async def post(
    client: httpx.AsyncClient, target: WebhookTarget, item: OutboxItem, now: datetime
) -> tuple[int | None, str | None]:
    """Send one signed request: (status code, None) on a 2xx answer, else (status, what went wrong)."""
    body = encode_body(item.webhook_body())
    headers = signed_headers(target.secret, body, int(now.timestamp()))
    try:
        response = await client.post(target.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code} from {target.url}"


async def attempt_delivery(
    engine: Engine,
    client: httpx.AsyncClient,
    targets: Mapping[str, WebhookTarget],
    item: OutboxItem,
    policy: DeliveryPolicy,
    clock: Clock,
) -> Outcome:
    """One attempt: send, then record the outcome in its own transaction."""
    target = targets.get(item.channel)
    if target is None:
        reason = f"channel {item.channel!r} has no webhook in the channels file (LIFELINE_CHANNELS_FILE)"
        done = await asyncio.to_thread(_record_undeliverable, engine, item.id, clock(), reason)
        return Outcome.DEAD if done else Outcome.SKIPPED
    status_code, error = await post(client, target, item, clock())
    now = clock()
    if error is None:
        done = await asyncio.to_thread(_record_delivered, engine, item.id, now, status_code or 200)
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


def _record_delivered(engine: Engine, notification_id: int, now: datetime, status_code: int) -> bool:
    with session_scope(engine) as session:
        return record_delivered(session, notification_id, now, status_code)


def _record_failure(
    engine: Engine, notification_id: int, now: datetime, error: str, max_attempts: int, retry_at: datetime
) -> NotificationStatus | None:
    with session_scope(engine) as session:
        return record_failed_attempt(session, notification_id, now, error, max_attempts, retry_at)


def _record_undeliverable(engine: Engine, notification_id: int, now: datetime, error: str) -> bool:
    with session_scope(engine) as session:
        return record_undeliverable(session, notification_id, now, error)
