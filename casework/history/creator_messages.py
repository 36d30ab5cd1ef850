"""Which events write the creator an email: the case opened, an agent's public reply, the case now
waiting on them, the case resolved. Each is an outbox row on channel ``creator`` (an email channel
to ``attributes.creator.contact_email`` unless the channels file says otherwise), written with the
event in the same transaction, so the email is sent with the same retries and records as every
notification. The row holds no link: the sender derives it when it writes the email.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from casework.history.case_rows import CaseRecord
from casework.history.event_rows import EventRow, NotificationRow
from casework.history.hashchain import utc_iso
from models.kinds import NotificationStatus
from sla_engine.kinds import EventKind, Status

#: The channel of the creator's emails.
CREATOR_CHANNEL = "creator"


def trigger(row: EventRow) -> str | None:
    """What the creator is told about, for an event that warrants an email (else None)."""
    if row.kind is EventKind.OPENED:
        return "opened"
    if row.kind is EventKind.REPLIED:
        return "replied"
    if row.kind is EventKind.STATUS_CHANGED:
        to = row.data.get("to")
        if to == Status.WAITING_ON_CREATOR:
            return "waiting"
        if to == Status.RESOLVED:
            return "resolved"
    return None


def contact_email(attributes: dict[str, Any]) -> str | None:
    creator = attributes.get("creator")
    email = creator.get("contact_email") if isinstance(creator, dict) else None
    return email if isinstance(email, str) and "@" in email else None


def creator_notifications(case: CaseRecord, rows: Sequence[EventRow], now: datetime) -> list[NotificationRow]:
    """The outbox rows of the creator's emails that ``rows`` call for (none without a contact email)."""
    if contact_email(case.attributes) is None:
        return []
    found = []
    for row in rows:
        what = trigger(row)
        if what is None:
            continue
        payload = {
            "at": utc_iso(row.at),
            "case_id": case.id,
            "channel": CREATOR_CHANNEL,
            "event_seq": row.seq,
            "message": what,
        }
        found.append(
            NotificationRow(
                case_id=case.id,
                event_seq=row.seq,
                channel=CREATOR_CHANNEL,
                payload=payload,
                status=NotificationStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return found
