"""Sending one notification to its channel's webhook (plain functions: no Prefect, no retries here).

``flows.outbox_delivery.attempt_delivery`` calls :func:`post` through the kind table
(flows/senders.py) and records each attempt's outcome with the outbox service in its own transaction,
after the request, so a crash in between may resend (the receiver de-duplicates by
``notification_id``) but never loses the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import httpx

from casework.history.outbox import OutboxItem
from flows.signing import encode_body, signed_headers
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


class Undeliverable(Exception):
    """Raised by a sender when no retry can help (no recipient, nothing configured to send with):
    the notification becomes a dead letter at once, with this message as its error."""


class DeliveryFailed(RuntimeError):
    """One attempt failed and the row may be retried (flows.outbox_delivery retries it with back-off)."""


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
