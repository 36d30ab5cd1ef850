"""The creator channel's small parts: the access-log mask, language choice, SMTP URLs, and SMTP login
against a real aiosmtpd server."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from casework.creator.emails import Email
from casework.creator.smtp import SmtpServer, parse_smtp_url, send_now
from casework.creator.texts import choose_language, localized
from console.creator_pages import MaskStatusTokens
from tests.serve_process import free_port

TOKEN = "3q2mVb0yH6Rr0cE1p8GZ7mDq9sLw5XfYtJ4nK2aUe1I"


def test_the_access_log_never_shows_a_status_token() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/status/{TOKEN}/reply?lang=it", "1.1", 303), None,
    )  # fmt: skip
    assert MaskStatusTokens().filter(record) is True
    assert TOKEN not in record.getMessage()
    assert record.getMessage() == '127.0.0.1:5000 - "POST /status/***/reply?lang=it HTTP/1.1" 303'


@pytest.mark.parametrize(
    ("query", "header", "default", "expected"),
    [
        ("it", "en", "en", "it"),
        (None, "it-IT,it;q=0.9,en;q=0.5", "en", "it"),
        (None, "de-DE,en;q=0.5,it;q=0.7", "en", "it"),
        (None, "de", "en", "en"),
        (None, None, "it", "it"),
        ("xx", None, "en", "en"),
        (None, "it;q=0", "en", "en"),
    ],
)
def test_language_choice(query: str | None, header: str | None, default: str, expected: str) -> None:
    assert choose_language(query, header, default) == expected


def test_policy_texts_fall_back_to_english_then_any_language() -> None:
    assert localized({"en": "Hello", "it": "Ciao"}, "it") == "Ciao"
    assert localized({"en": "Hello", "it": "Ciao"}, "fr") == "Hello"
    assert localized({"it": "Ciao"}, "fr") == "Ciao"
    assert localized("Same for all", "it") == "Same for all"
    assert localized(None, "it", "default") == "default"


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://127.0.0.1:1025", SmtpServer("127.0.0.1", 1025)),
        ("smtp://mail.example", SmtpServer("mail.example", 25)),
        (
            "smtp://u%40x:p%3Aw@mail.example:587?starttls=true",
            SmtpServer("mail.example", 587, False, True, "u@x", "p:w"),
        ),
        ("smtps://mail.example", SmtpServer("mail.example", 465, True)),
    ],
)
def test_smtp_urls(url: str, server: SmtpServer) -> None:
    assert parse_smtp_url(url) == server


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "mail.example:25"])
def test_bad_smtp_urls_say_what_is_expected(url: str) -> None:
    with pytest.raises(ValueError, match="smtp://host:port or smtps://host:port"):
        parse_smtp_url(url)


class _Inbox:
    def __init__(self) -> None:
        self.logins: list[tuple[str, str]] = []
        self.received: list[bytes] = []

    def authenticate(
        self, server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login = (data.login.decode(), data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == ("lifeline", "s3cret"))

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.received.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def authenticating_server() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def test_smtp_logs_in_when_the_url_has_credentials(
    authenticating_server: tuple[int, _Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, inbox = authenticating_server
    monkeypatch.setenv("LIFELINE_SMTP_URL", f"smtp://lifeline:s3cret@127.0.0.1:{port}")
    send_now(Email(("a@example.com",), "Hello", "Body\n", None, "en"))
    assert inbox.logins == [("lifeline", "s3cret")]
    assert len(inbox.received) == 1
