"""One table from a channel's kind to the function that sends a notification there.

A channel in the channels file has a ``kind`` (``webhook`` when it names none). Each kind's sender
lives in a module of its own (``flows/webhooks.py`` for webhooks) and is listed in ``SENDERS``; the
delivery code (flows/outbox_delivery.py) only ever calls :func:`sender_for`. A new kind (``email``)
is a module with a :data:`Sender` and one line in the table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from casework.history.outbox import OutboxItem
from flows.webhooks import post

#: Sends ``item`` to ``target`` at ``now``: (status code or None, None on success else what went
#: wrong). The HTTP client is the delivery run's, shared by every send.
Sender = Callable[[httpx.AsyncClient, Any, OutboxItem, datetime], Awaitable[tuple[int | None, str | None]]]

DEFAULT_KIND = "webhook"

SENDERS: dict[str, Sender] = {
    "webhook": post,
}


class UnknownChannelKind(LookupError):
    """The channels file names a kind no sender handles."""


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
