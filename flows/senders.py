"""One table from a channel's kind to the function that sends a notification there.

A channel in the channels file has a ``kind`` (``webhook`` when it names none). Each kind's sender
lives in a module of its own (``flows/webhooks.py`` for webhooks, ``flows/email_delivery.py`` for
email) and is listed in ``SENDERS``; the delivery code (flows/outbox_delivery.py) only ever calls
:func:`channel_of` and :func:`sender_for`, and records every outcome itself. A new kind is a module
with a :data:`Sender` and one line in the table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from casework.history.creator_messages import CREATOR_CHANNEL
from casework.history.outbox import OutboxItem
from flows.email_delivery import send_email
from flows.webhooks import post
from policies.channels import TO_CREATOR, Channel

#: Sends ``item`` to ``target`` at ``now``: (status code or None, None on success else what went
#: wrong, to be retried). Raises :class:`Undeliverable` when no retry can help. The HTTP client is
#: the delivery run's, shared by every send; the engine is for senders that compose from the case.
Sender = Callable[
    [Engine, httpx.AsyncClient, Any, OutboxItem, datetime], Awaitable[tuple[int | None, str | None]]
]

DEFAULT_KIND = "webhook"

#: The creator's channel when the channels file does not name it: an email to the case's creator.
DEFAULT_CREATOR_CHANNEL = Channel(CREATOR_CHANNEL, "", "", "email", TO_CREATOR)


async def _webhook(
    _engine: Engine, client: httpx.AsyncClient, target: Any, item: OutboxItem, now: datetime
) -> tuple[int | None, str | None]:
    return await post(client, target, item, now)


SENDERS: dict[str, Sender] = {
    "webhook": _webhook,
    "email": send_email,
}


class UnknownChannelKind(LookupError):
    """The channels file names a kind no sender handles."""


def channel_of(targets: Mapping[str, Any], name: str) -> Any:
    """The channel ``name`` of the channels file, or the built-in creator channel, or None."""
    target = targets.get(name)
    if target is None and name == CREATOR_CHANNEL:
        return DEFAULT_CREATOR_CHANNEL
    return target


def kind_of(target: Any) -> str:
    """A channel's kind (``webhook`` for channels that name none)."""
    return str(getattr(target, "kind", None) or DEFAULT_KIND)


def sender_for(target: Any) -> Sender:
    kind = kind_of(target)
    try:
        return SENDERS[kind]
    except KeyError:
        raise UnknownChannelKind(
            f"no sender for channel kind {kind!r} (known: {', '.join(SENDERS)})"
        ) from None
