"""One delivery attempt, dispatched by the channel's kind through one table (``SENDERS``).

A channel with no entry in the channels file goes to the webhook sender (which dead-letters it with
the reason), except the creator's channel: by default it is an email to the case's creator.
Kind-specific code stays in its own module (flows/webhooks.py, flows/email_delivery.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from casework.history.creator_messages import CREATOR_CHANNEL
from casework.history.outbox import OutboxItem
from flows.email_delivery import attempt_email
from flows.webhooks import DeliveryPolicy, Outcome, attempt_delivery
from policies.channels import TO_CREATOR, Channel

Clock = Callable[[], datetime]
Sender = Callable[[Engine, httpx.AsyncClient, Any, OutboxItem, DeliveryPolicy, Clock], Awaitable[Outcome]]

#: The creator's channel when the channels file does not name it.
DEFAULT_CREATOR_CHANNEL = Channel(CREATOR_CHANNEL, "", "", "email", TO_CREATOR)


async def _webhook(
    engine: Engine,
    client: httpx.AsyncClient,
    targets: Any,
    item: OutboxItem,
    policy: DeliveryPolicy,
    clock: Clock,
) -> Outcome:
    return await attempt_delivery(engine, client, targets, item, policy, clock)


async def _email(
    engine: Engine,
    client: httpx.AsyncClient,
    targets: Any,
    item: OutboxItem,
    policy: DeliveryPolicy,
    clock: Clock,
) -> Outcome:
    return await attempt_email(engine, client, channel_of(targets, item.channel), item, policy, clock)


#: channel kind -> the sender of one attempt (which records its outcome).
SENDERS: dict[str, Sender] = {"webhook": _webhook, "email": _email}


def channel_of(targets: Mapping[str, Any], name: str) -> Any:
    """The channel ``name`` of the channels file, or the built-in creator channel, or None."""
    target = targets.get(name)
    if target is None and name == CREATOR_CHANNEL:
        return DEFAULT_CREATOR_CHANNEL
    return target


async def dispatch(
    engine: Engine,
    client: httpx.AsyncClient,
    targets: Mapping[str, Any],
    item: OutboxItem,
    policy: DeliveryPolicy,
    clock: Clock,
) -> Outcome:
    """One attempt at ``item`` by its channel's kind (webhook when unknown)."""
    kind = getattr(channel_of(targets, item.channel), "kind", "webhook")
    return await SENDERS.get(kind, _webhook)(engine, client, targets, item, policy, clock)
