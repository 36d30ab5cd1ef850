"""The sender of the ``email`` channel kind (listed in flows/senders.py's table).

The email is composed when it is sent (casework.creator.emails), in a short transaction: the
creator's status link is derived then, so no row ever holds it. The delivery code records the
outcome as for webhooks (``notification_delivered`` with status code 250, retries, dead letter after
the last attempt); an email with no possible recipient, or no LIFELINE_SMTP_URL, is a dead letter at
once (:class:`flows.webhooks.Undeliverable`).
"""

from __future__ import annotations

import asyncio
import smtplib
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from casework.creator.emails import Email, NoRecipient, creator_email, staff_email
from casework.creator.smtp import build_message, parse_smtp_url, send
from casework.history.outbox import OutboxItem
from casework.settings import get_settings
from flows.webhooks import Undeliverable
from models.db import session_scope
from policies.channels import TO_CREATOR

#: What a delivered email records as its status code (SMTP's "requested action completed").
SMTP_OK = 250
#: Seconds an SMTP conversation may take before the attempt counts as failed.
SMTP_TIMEOUT_SECONDS = 10.0


def compose(engine: Engine, item: OutboxItem, to: str, now: datetime) -> Email:
    """The email of ``item`` for recipients ``to`` (``creator`` or addresses)."""
    if to != TO_CREATOR:
        return staff_email(to, item.payload)
    trigger = str(item.payload.get("message") or "opened")
    with session_scope(engine) as session:
        return creator_email(session, item.case_id, trigger, item.event_seq, now)


async def send_email(
    engine: Engine,
    _client: httpx.AsyncClient,  # the senders table's shape; email needs no HTTP client
    target: Any,
    item: OutboxItem,
    now: datetime,
) -> tuple[int | None, str | None]:
    """One attempt to email ``item`` to ``target.to``: (250, None) when the server took it."""
    settings = get_settings()
    if not settings.smtp_url:
        raise Undeliverable("LIFELINE_SMTP_URL is not set: no email can be sent")
    try:
        server = parse_smtp_url(settings.smtp_url)
        email = await asyncio.to_thread(compose, engine, item, str(target.to), now)
    except (ValueError, NoRecipient) as exc:
        raise Undeliverable(str(exc)) from None
    try:
        message = build_message(email, settings.smtp_from)
        await asyncio.to_thread(send, server, message, SMTP_TIMEOUT_SECONDS)
    except (OSError, smtplib.SMTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return SMTP_OK, None
