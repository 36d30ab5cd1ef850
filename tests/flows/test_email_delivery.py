"""Email channels through the same outbox and `deliver-notifications` flow as webhooks, under a real
(test) Prefect server, to a real SMTP server (aiosmtpd) on 127.0.0.1: the creator's emails with their
status link in their language, staff emails, retries and dead letters."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from casework.cases.lifecycle import apply_action, open_case
from casework.creator import links
from flows.delivery import DeliveriesFailed, deliver_notifications
from models.db import session_scope
from models.kinds import NotificationStatus
from models.tables import Case, CaseEvent, Notification
from sla_engine.kinds import EventKind
from tests.casework.builders import T0
from tests.creator.conftest import CREATOR_ATTRIBUTES, register_bundled
from tests.creator.smtp_server import Mailbox, html_part, smtp_server, text_part

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_harness")]
LINK = re.compile(r"http://127\.0\.0\.1:8000/status/([A-Za-z0-9_-]{43})")


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with smtp_server() as box:
        monkeypatch.setenv("LIFELINE_SMTP_URL", box.url)
        monkeypatch.setenv("LIFELINE_SMTP_FROM", "Support <support@platform.example>")
        yield box


def _open(engine: Engine, attributes: dict[str, object] = CREATOR_ATTRIBUTES) -> str:
    register_bundled(engine)
    with session_scope(engine) as session:
        change = open_case(
            session, incident_type="account_compromised", attributes=attributes, actor="agent:ana", now=T0
        )
        links.issue_link(session, change.case.id, T0)
        return change.case.id


def _act(engine: Engine, case_id: str, action: str, **args: str) -> None:
    with session_scope(engine) as session:
        apply_action(session, case_id, action, args, "agent:ana", T0 + timedelta(minutes=5))


def _rows(engine: Engine) -> list[Notification]:
    with Session(engine) as session:
        return list(session.exec(select(Notification).order_by(col(Notification.id))))


def test_the_creator_gets_their_link_in_italian_when_the_case_opens(
    engine: Engine, db_url: str, mailbox: Mailbox
) -> None:
    case_id = _open(engine)

    result = asyncio.run(deliver_notifications(database_url=db_url))

    assert result == {"claimed": 1, "delivered": 1}
    [message] = mailbox.messages
    assert message["To"] == "giulia@example.com"
    assert message["From"] == "Support <support@platform.example>"
    assert message["Subject"] == "Abbiamo ricevuto la tua richiesta: Il tuo account è stato compromesso"
    text = text_part(message)
    found = LINK.search(text)
    assert found is not None
    with Session(engine) as session:
        assert links.resolve(session, found.group(1), T0).id == case_id
    assert f'href="{found.group(0)}"' in html_part(message)
    [row] = _rows(engine)
    assert (row.channel, row.status, row.attempts) == ("creator", NotificationStatus.DELIVERED, 1)
    assert found.group(1) not in json.dumps(row.payload)
    with Session(engine) as session:
        delivered = session.exec(
            select(CaseEvent).where(CaseEvent.kind == EventKind.NOTIFICATION_DELIVERED)
        ).all()
    assert [(e.data["channel"], e.data["status_code"]) for e in delivered] == [("creator", 250)]
    assert all(found.group(1) not in json.dumps(e.data) for e in delivered)


def test_replies_requests_and_resolution_each_email_the_creator_but_notes_do_not(
    engine: Engine, db_url: str, mailbox: Mailbox
) -> None:
    creator = dict(CREATOR_ATTRIBUTES["creator"])  # type: ignore[call-overload]
    attributes = {**CREATOR_ATTRIBUTES, "creator": {**creator, "language": "en"}}
    case_id = _open(engine, attributes)
    _act(engine, case_id, "note", text="internal only")
    _act(engine, case_id, "reply", message="We have locked the attacker out.")
    _act(engine, case_id, "request_info", reason="Which phone number did you use?")
    _act(engine, case_id, "creator_replied", message="+39 ... 42")
    _act(engine, case_id, "resolve")

    result = asyncio.run(deliver_notifications(database_url=db_url))

    assert result == {"claimed": 4, "delivered": 4}
    subjects = sorted(m["Subject"] for m in mailbox.messages)
    title = "Your account was taken over"
    assert subjects == sorted(
        [
            f"We have your case: {title}",
            f"New message about your case: {title}",
            f"We need something from you: {title}",
            f"Your case is resolved: {title}",
        ]
    )
    by_subject = {m["Subject"]: text_part(m) for m in mailbox.messages}
    assert "We have locked the attacker out." in by_subject[f"New message about your case: {title}"]
    assert "Which phone number did you use?" in by_subject[f"We need something from you: {title}"]
    assert all("internal only" not in body for body in by_subject.values())


def test_a_refused_email_is_retried_then_delivered(engine: Engine, db_url: str, mailbox: Mailbox) -> None:
    _open(engine)
    mailbox.refuse_next = 2

    result = asyncio.run(deliver_notifications(database_url=db_url, backoff_factor=0.01))

    assert result == {"claimed": 1, "delivered": 1}
    [row] = _rows(engine)
    assert (row.status, row.attempts) == (NotificationStatus.DELIVERED, 3)
    assert (mailbox.refused, len(mailbox.messages)) == (2, 1)


def test_without_smtp_or_contact_email_nothing_is_sent_and_the_reason_is_recorded(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIFELINE_SMTP_URL", raising=False)
    case_id = _open(engine)
    no_email = {"creator": {"id": "cr_9", "handle": "@x"}}
    with session_scope(engine) as session:
        open_case(
            session, incident_type="account_compromised", attributes=no_email, actor="agent:ana", now=T0
        )

    with pytest.raises(DeliveriesFailed) as failed:  # a dead letter fails the run (and its task)
        asyncio.run(deliver_notifications(database_url=db_url))

    assert failed.value.counts == {"claimed": 1, "dead": 1}
    [row] = _rows(engine)
    assert row.case_id == case_id and row.status is NotificationStatus.DEAD
    assert row.last_error == "channel 'creator': LIFELINE_SMTP_URL is not set: no email can be sent"


def test_a_staff_email_channel_gets_the_policy_notifications(
    engine: Engine, db_url: str, mailbox: Mailbox, tmp_path: Path
) -> None:
    path = tmp_path / "channels.json"
    path.write_text(
        json.dumps({"channels": {"security-oncall": {"kind": "email", "to": "oncall@platform.example"}}})
    )
    register_bundled(engine)
    with session_scope(engine) as session:
        # Opened 40 minutes back: the P1 case has left frontline (30 min) for account-security.
        change = open_case(
            session,
            incident_type="account_compromised",
            attributes={"creator": {"id": "cr_5", "tier": "partner"}},
            actor="agent:ana",
            now=T0 + timedelta(minutes=40),
            opened_at=T0,
        )
        case = session.get(Case, change.case.id)
        assert case is not None and case.stage == "account-security"

    # The policy's other channels (support-leads' breach notices) have no entry in this channels
    # file: they are dead letters, so the run fails, and the email is delivered all the same.
    with pytest.raises(DeliveriesFailed) as failed:
        asyncio.run(deliver_notifications(database_url=db_url, channels_file=str(path)))

    assert failed.value.counts == {"claimed": 3, "delivered": 1, "dead": 2}
    [message] = mailbox.messages
    assert message["To"] == "oncall@platform.example"
    assert message["Subject"].startswith(f"[Lifeline] {change.case.id}:")
    assert "account-security" in text_part(message)
