"""Intake at /help for a creator who cannot sign in: the emailed code (caught by a real SMTP server)
opens the case, with its clocks starting at verification; limits, wrong codes, expiry, honeypot."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage

import httpx
import pytest
from sqlmodel import Session, select

from casework.creator import intake
from models.creator_tables import IntakeRequest
from models.db import session_scope
from tests.api.conftest import ApiWorld
from tests.casework.builders import T0
from tests.creator.conftest import token_of
from tests.creator.smtp_server import Mailbox, smtp_server, text_part

FORM = {
    "incident_type": "account_compromised",
    "platform": "instagram",
    "handle": "@giulia",
    "email": "giulia@example.com",
    "summary": "Someone changed my password and my 2FA <b>phone</b>.",
}


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    with smtp_server() as box:
        monkeypatch.setenv("LIFELINE_SMTP_URL", box.url)
        monkeypatch.setenv("LIFELINE_INTAKE", "on")
        yield box


def _start(api: ApiWorld, **changes: str) -> httpx.Response:
    response: httpx.Response = api.client.post("/help?lang=it", data={**FORM, **changes})
    return response


def _request_id(page: str) -> str:
    found = re.search(r'name="request_id" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _code(message: EmailMessage) -> str:
    found = re.search(r"\b(\d{6})\b", text_part(message))
    assert found is not None
    return found.group(1)


def _verify(api: ApiWorld, request_id: str, code: str) -> httpx.Response:
    response: httpx.Response = api.client.post(
        "/help/verify?lang=it", data={"request_id": request_id, "code": code}
    )
    return response


def test_intake_is_off_unless_turned_on(creator_api: ApiWorld) -> None:
    assert creator_api.client.get("/help").status_code == 404
    assert creator_api.client.post("/help", data=FORM).status_code == 404


def test_the_case_opens_only_when_the_emailed_code_comes_back(
    creator_api: ApiWorld, mailbox: Mailbox
) -> None:
    form = creator_api.client.get("/help?lang=it")
    assert form.status_code == 200 and "Il tuo account è stato compromesso" in form.text

    started = _start(creator_api)

    assert started.status_code == 200
    assert "le nostre scadenze partono, quando lo inserisci" in started.text
    [message] = mailbox.messages
    assert message["To"] == "giulia@example.com"
    code = _code(message)
    assert message["Subject"] == f"Il tuo codice Lifeline: {code}"
    assert creator_api.get("/v1/cases").json()["items"] == []
    with Session(creator_api.engine) as session:
        stored = session.exec(select(IntakeRequest)).one()
    assert code not in stored.code_hash

    creator_api.clock.advance(minutes=10)
    opened = _verify(creator_api, _request_id(started.text), code)

    assert opened.status_code == 201
    token = token_of(opened.text)
    [case] = creator_api.get("/v1/cases").json()["items"]
    view = creator_api.get(f"/v1/cases/{case['id']}").json()
    assert view["opened_at"].startswith("2026-03-02T09:10:00")  # clocks start at verification
    first = next(c for c in view["clocks"] if c["name"] == "first_response")
    assert first["due_at"].startswith("2026-03-02T10:10:00")  # P2 (no tier): one hour from 09:10
    creator = view["attributes"]["creator"]
    assert (creator["verified_contact"], creator["contact_email"], creator["handle"]) == (
        True,
        "giulia@example.com",
        "@giulia",
    )
    page = creator_api.client.get(f"/status/{token}")
    assert page.status_code == 200 and '<html lang="it">' in page.text
    assert _verify(creator_api, _request_id(started.text), code).status_code == 410  # used once


def test_five_wrong_codes_burn_the_request(creator_api: ApiWorld, mailbox: Mailbox) -> None:
    started = _start(creator_api)
    code = _code(mailbox.messages[0])
    wrong = "000000" if code != "000000" else "111111"
    request_id = _request_id(started.text)
    assert [_verify(creator_api, request_id, wrong).status_code for _ in range(4)] == [422] * 4
    assert _verify(creator_api, request_id, wrong).status_code == 410
    assert _verify(creator_api, request_id, code).status_code == 410
    assert creator_api.get("/v1/cases").json()["items"] == []


def test_a_code_lasts_fifteen_minutes(creator_api: ApiWorld, mailbox: Mailbox) -> None:
    started = _start(creator_api)
    creator_api.clock.advance(minutes=15)
    assert _verify(creator_api, _request_id(started.text), _code(mailbox.messages[0])).status_code == 410


def test_five_pending_an_hour_per_address_then_429(creator_api: ApiWorld, mailbox: Mailbox) -> None:
    for n in range(5):
        assert _start(creator_api, email=f"c{n}@example.com").status_code == 200
    refused = _start(creator_api, email="c5@example.com")
    assert refused.status_code == 429 and "Troppe richieste" in refused.text
    assert len(mailbox.messages) == 5
    creator_api.clock.advance(hours=1, seconds=1)
    assert _start(creator_api, email="c6@example.com").status_code == 200


def test_five_pending_an_hour_per_email_whatever_the_address(engine: object, creator_api: ApiWorld) -> None:
    form = intake.IntakeForm(**FORM, language="en")
    with session_scope(creator_api.engine) as session:
        for n in range(5):
            intake.start(session, form, f"10.0.0.{n}", T0)
    with session_scope(creator_api.engine) as session, pytest.raises(intake.IntakeLimited):
        intake.start(
            session,
            intake.IntakeForm(**{**FORM, "email": "GIULIA@example.com"}, language="en"),
            "10.0.0.9",
            T0,
        )
    with session_scope(creator_api.engine) as session:
        intake.start(session, form, "10.0.0.9", T0 + timedelta(hours=1, seconds=1))


def test_the_honeypot_looks_accepted_but_nothing_is_sent_or_kept(
    creator_api: ApiWorld, mailbox: Mailbox
) -> None:
    response = _start(creator_api, website="http://spam.example")
    assert response.status_code == 200 and 'name="request_id"' in response.text
    assert mailbox.messages == []
    with Session(creator_api.engine) as session:
        assert session.exec(select(IntakeRequest)).all() == []


def test_a_bad_form_names_its_fields_and_keeps_what_was_typed(
    creator_api: ApiWorld, mailbox: Mailbox
) -> None:
    response = _start(creator_api, email="not-an-email", incident_type="nope")
    assert response.status_code == 422
    assert "Controlla il modulo" in response.text and "Cosa è successo" in response.text
    assert "Someone changed my password and my 2FA &lt;b&gt;phone&lt;/b&gt;." in response.text
    assert mailbox.messages == []
