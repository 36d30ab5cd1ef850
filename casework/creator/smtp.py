"""Sending one email over SMTP at LIFELINE_SMTP_URL (plain functions; the caller retries). Used by the
delivery flow (flows/email_delivery.py) and by intake, which emails its code while the creator waits.

URL forms: ``smtp://host:port`` (plain; add ``?starttls=true`` to upgrade with STARTTLS),
``smtps://host:port`` (TLS from the start); ``user:password@`` logs in. Default ports 25 and 465.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from casework.creator.emails import Email
from casework.settings import get_settings

TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool = False
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpServer:
    """The server of an ``smtp://`` or ``smtps://`` URL; ValueError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"LIFELINE_SMTP_URL must be smtp://host:port or smtps://host:port, got {url!r}")
    tls = parts.scheme == "smtps"
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["false"])[0].lower() in TRUE
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return SmtpServer(parts.hostname, parts.port or (465 if tls else 25), tls, starttls, user, password)


def build_message(email: Email, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(email.to)
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain="lifeline")
    message["Content-Language"] = email.language
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


def send(server: SmtpServer, message: EmailMessage, timeout: float) -> None:
    """Send ``message``; raises OSError or smtplib.SMTPException on failure."""
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if server.tls:
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    with client:
        if server.starttls:
            client.starttls(context=context)
        if server.user is not None:
            client.login(server.user, server.password or "")
        client.send_message(message)


def send_now(email: Email, timeout: float = 10.0) -> None:
    """Send ``email`` at once through LIFELINE_SMTP_URL (for a creator waiting on a page); raises
    ValueError when no server is configured, OSError or SMTPException when sending fails."""
    settings = get_settings()
    if not settings.smtp_url:
        raise ValueError("LIFELINE_SMTP_URL is not set: no email can be sent")
    send(parse_smtp_url(settings.smtp_url), build_message(email, settings.smtp_from), timeout)
