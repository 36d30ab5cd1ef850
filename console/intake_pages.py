"""Intake for creators who cannot sign in: ``/help`` (the form) and ``/help/verify`` (the emailed
code). Off unless LIFELINE_INTAKE=on: then every path here is the plain 404 page.

The code is emailed while the creator waits (SMTP at LIFELINE_SMTP_URL); the case opens, and its
clocks start, only when the code comes back (casework.creator.intake). A filled honeypot field gets
the same "code sent" page and nothing is recorded or sent.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from casework.creator import intake, links
from casework.creator.emails import code_email
from casework.creator.smtp import send_now
from casework.creator.texts import catalogue
from casework.settings import get_settings
from console.creator_pages import language_of, message_page, not_found, render
from models.db import session_scope

router = APIRouter(include_in_schema=False)
log = logging.getLogger("lifeline.intake")
FIELDS = ("incident_type", "platform", "handle", "email", "summary")


def _enabled() -> bool:
    return get_settings().intake.lower() == "on"


def _form_page(request: Request, lang: str, status: int, form: dict[str, str], error: str | None) -> Response:
    engine: Engine = request.app.state.engine
    with session_scope(engine, write=False) as session:
        kinds = intake.incident_types(session, lang)
    return render(request, "creator/help.html", lang, status, incident_types=kinds, form=form, error=error)


@router.get("/help")
def help_form(request: Request, lang: Annotated[str | None, Query(max_length=10)] = None) -> Response:
    language = language_of(request, lang)
    if not _enabled():
        return not_found(request, language)
    return _form_page(request, language, 200, dict.fromkeys(FIELDS, ""), None)


@router.post("/help")
def help_start(
    request: Request,
    incident_type: Annotated[str, Form(max_length=100)] = "",
    platform: Annotated[str, Form(max_length=200)] = "",
    handle: Annotated[str, Form(max_length=400)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    summary: Annotated[str, Form(max_length=20_000)] = "",
    website: Annotated[str, Form(max_length=400)] = "",
    lang: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    language = language_of(request, lang)
    if not _enabled():
        return not_found(request, language)
    texts = catalogue(language)
    values = {"incident_type": incident_type, "platform": platform, "handle": handle, "email": email}
    values["summary"] = summary
    if website:  # the honeypot: only robots fill it
        return _verify_page(request, language, 200, "in_" + links.hash_token(email)[:32], None)
    form = intake.IntakeForm(incident_type, platform, handle, email, summary, language)
    engine: Engine = request.app.state.engine
    now: datetime = request.app.state.clock()
    address = request.client.host if request.client else "unknown"
    try:
        with session_scope(engine) as session:
            started = intake.start(session, form, address, now)
    except intake.IntakeInvalid as err:
        names = ", ".join(texts.get(f"intake_{_label(f)}", f) for f in err.fields)
        return _form_page(request, language, 422, values, texts["intake_invalid"].format(fields=names))
    except intake.IntakeLimited:
        return message_page(request, language, 429, "intake_title", "intake_too_many")
    try:
        send_now(code_email(email.strip(), started.code, language))
    except (ValueError, OSError, smtplib.SMTPException) as err:
        log.warning("intake code not sent: %s", err)
        return message_page(request, language, 503, "intake_title", "intake_send_failed")
    return _verify_page(request, language, 200, started.request_id, None)


def _label(field: str) -> str:
    return {"incident_type": "incident"}.get(field, field)


def _verify_page(request: Request, lang: str, status: int, request_id: str, error: str | None) -> Response:
    return render(request, "creator/help_verify.html", lang, status, request_id=request_id, error=error)


@router.post("/help/verify")
def help_verify(
    request: Request,
    request_id: Annotated[str, Form(max_length=100)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    lang: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    language = language_of(request, lang)
    if not _enabled():
        return not_found(request, language)
    texts = catalogue(language)
    engine: Engine = request.app.state.engine
    now: datetime = request.app.state.clock()
    with session_scope(engine) as session:
        result = intake.verify(session, request_id, code, now)
    if result.outcome is intake.Verification.WRONG:
        return _verify_page(request, language, 422, request_id, texts["intake_wrong_code"])
    if result.outcome is intake.Verification.GONE:
        return message_page(request, language, 410, "intake_title", "intake_expired")
    assert result.token is not None
    link = links.status_url(result.token)
    context: dict[str, Any] = {"link": link}
    return render(request, "creator/help_opened.html", language, 201, **context)
