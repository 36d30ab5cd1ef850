"""Delivering one outbox row on an email channel (plain functions: Prefect's task retries wrap it
in flows/delivery.py, through flows/channel_dispatch.py).

The email is composed when it is sent (casework.creator.emails), in a short transaction: the
creator's status link is derived then, so no row ever holds it. Outcomes are recorded as for webhooks
(``notification_delivered`` with status_code 250, retries, dead letter after the last attempt); an
email with no possible recipient, or no LIFELINE_SMTP_URL, is a dead letter at once.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from casework.creator.emails import Email, NoRecipient, creator_email, staff_email
from casework.creator.smtp import build_message, parse_smtp_url, send
from casework.history.outbox import OutboxItem, record_delivered, record_failed_attempt, record_undeliverable
from casework.settings import get_settings
from flows.webhooks import DeliveryFailed, DeliveryPolicy, Outcome
from models.db import session_scope
from models.kinds import NotificationStatus
from policies.channels import TO_CREATOR

Clock = Callable[[], datetime]
#: What a delivered email records as its status code (SMTP's "requested action completed").
SMTP_OK = 250


def compose(engine: Engine, item: OutboxItem, to: str, now: datetime) -> Email:
    """The email of ``item`` for recipients ``to`` (``creator`` or addresses)."""
    if to != TO_CREATOR:
        return staff_email(to, item.payload)
    trigger = str(item.payload.get("message") or "opened")
    with session_scope(engine) as session:
        return creator_email(session, item.case_id, trigger, item.event_seq, now)


async def attempt_email(
    engine: Engine,
    _client: httpx.AsyncClient,  # the dispatch table's shape; email needs no HTTP client
    target: Any,
    item: OutboxItem,
    policy: DeliveryPolicy,
    clock: Clock,
) -> Outcome:
    """One attempt to email ``item`` to ``target.to``; records the outcome like a webhook's."""
    settings = get_settings()
    if not settings.smtp_url:
        return await _dead(engine, item, clock(), "LIFELINE_SMTP_URL is not set: no email can be sent")
    try:
        server = parse_smtp_url(settings.smtp_url)
        email = await asyncio.to_thread(compose, engine, item, str(target.to), clock())
    except (ValueError, NoRecipient) as exc:
        return await _dead(engine, item, clock(), str(exc))
    try:
        message = build_message(email, settings.smtp_from)
        await asyncio.to_thread(send, server, message, policy.timeout_seconds)
        error = None
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"
    now = clock()
    if error is None:
        done = await asyncio.to_thread(_delivered, engine, item.id, now)
        return Outcome.DELIVERED if done else Outcome.SKIPPED
    status = await asyncio.to_thread(
        _failed, engine, item.id, now, error, policy.max_attempts, now + policy.lease
    )
    if status is None:
        return Outcome.SKIPPED
    if status is NotificationStatus.DEAD:
        return Outcome.DEAD
    raise DeliveryFailed(f"notification {item.id} to {item.channel}: {error}")


async def _dead(engine: Engine, item: OutboxItem, now: datetime, reason: str) -> Outcome:
    done = await asyncio.to_thread(_undeliverable, engine, item.id, now, reason)
    return Outcome.DEAD if done else Outcome.SKIPPED


def _delivered(engine: Engine, notification_id: int, now: datetime) -> bool:
    with session_scope(engine) as session:
        return record_delivered(session, notification_id, now, SMTP_OK)


def _failed(
    engine: Engine, notification_id: int, now: datetime, error: str, max_attempts: int, retry_at: datetime
) -> NotificationStatus | None:
    with session_scope(engine) as session:
        return record_failed_attempt(session, notification_id, now, error, max_attempts, retry_at)


def _undeliverable(engine: Engine, notification_id: int, now: datetime, error: str) -> bool:
    with session_scope(engine) as session:
        return record_undeliverable(session, notification_id, now, error)


def email_targets(targets: Mapping[str, Any]) -> dict[str, Any]:
    """The email channels among ``targets``."""
    return {name: t for name, t in targets.items() if getattr(t, "kind", "webhook") == "email"}
