"""The creator's status page (``GET /status/{token}``) and reply (``POST /status/{token}/reply``).

No sign-in: the link is the key. Every answer sends ``noindex``, ``Referrer-Policy: no-referrer``
and ``Cache-Control: no-store`` (the console's CSP comes from console.web); an unknown, rotated or
expired link gets the same 404 page. The reply form carries a token derived from the link (CSRF),
so a form posted from elsewhere, or for a rotated link, is refused. The token in these paths is
masked in uvicorn's access log (``mask_status_tokens``).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from casework.creator import links, replies
from casework.creator.others import other_open_cases
from casework.creator.status_view import creator_view
from casework.creator.texts import catalogue, choose_language, creator_language, languages
from casework.errors import ForbiddenTransition, InvalidAction, StatusLinkNotFound, TooManyReplies
from console.web import templates
from models.db import session_scope
from sla_engine.agent_actions import MAX_MESSAGE

router = APIRouter(include_in_schema=False)

PAGE_HEADERS = {
    "x-robots-tag": "noindex, nofollow",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
TOKEN_IN_PATH = re.compile(r"/status/[^/?\s\"]+")


class MaskStatusTokens(logging.Filter):
    """Rewrites ``/status/<token>`` to ``/status/***`` in a log record (uvicorn's access log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                TOKEN_IN_PATH.sub("/status/***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = TOKEN_IN_PATH.sub("/status/***", record.msg)
        return True


def mask_status_tokens() -> None:
    """Install the mask on uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskStatusTokens) for f in logger.filters):
        logger.addFilter(MaskStatusTokens())


mask_status_tokens()


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def language_of(request: Request, lang: str | None) -> str:
    return choose_language(lang, request.headers.get("accept-language"))


def render(request: Request, name: str, lang: str, status: int = 200, **context: Any) -> Response:
    names = {code: catalogue(code)["language_name"] for code in languages()}
    page = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": catalogue(lang),
            "language_links": list(names.items()),
            "iso": iso,
            "utc_text": utc_text,
            **context,
        },
        status_code=status,
        headers=PAGE_HEADERS,
    )
    return page


def message_page(request: Request, lang: str, status: int, heading: str, text: str) -> Response:
    texts = catalogue(lang)
    return render(request, "creator/message.html", lang, status, heading=texts[heading], text=texts[text])


def not_found(request: Request, lang: str) -> Response:
    """The one page for every link that does not work: it says nothing about any case."""
    return message_page(request, lang, 404, "not_found_title", "not_found_text")


def _status_page(
    request: Request,
    token: str,
    lang: str,
    status: int = 200,
    error: str | None = None,
    draft: str = "",
    asked: str | None = None,
) -> Response:
    """The page of ``token`` in ``lang``; with ``asked`` (the ``?lang=`` given, or None) a request
    that names no language at all gets the creator's own."""
    engine: Engine = request.app.state.engine
    now: datetime = request.app.state.clock()
    with session_scope(engine, write=False) as session:
        try:
            case = links.resolve(session, token, now)
        except StatusLinkNotFound:
            return not_found(request, lang)
        if asked is None and "accept-language" not in request.headers:
            lang = choose_language(None, None, creator_language(case.attributes))
        view = creator_view(session, case, lang, now)
        others = other_open_cases(session, case, lang, now)
        form_token = links.form_token(session, token, now)
    return render(
        request,
        "creator/status.html",
        lang,
        status,
        view=view,
        token=token,
        form_token=form_token,
        other_cases=others,
        sent=request.query_params.get("sent") == "1" and error is None,
        error=error,
        draft=draft,
    )


@router.get("/status/{token}")
def status_page(
    request: Request, token: str, lang: Annotated[str | None, Query(max_length=10)] = None
) -> Response:
    return _status_page(request, token, language_of(request, lang), asked=lang)


@router.post("/status/{token}/reply")
def post_reply(
    request: Request,
    token: str,
    message: Annotated[str, Form(max_length=MAX_MESSAGE * 4)] = "",
    form_token: Annotated[str, Form(max_length=200)] = "",
    lang: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The creator's message: 303 back to the page on success; the page again with what went wrong
    otherwise (their draft kept)."""
    language = language_of(request, lang)
    texts = catalogue(language)
    engine: Engine = request.app.state.engine
    now: datetime = request.app.state.clock()
    with session_scope(engine, write=False) as session:
        try:
            links.resolve(session, token, now)
        except StatusLinkNotFound:
            return not_found(request, language)
        if not links.form_token_ok(session, token, form_token, now):
            return _status_page(request, token, language, 403, texts["error_form"], message[:MAX_MESSAGE])
    if not message.strip():
        return _status_page(request, token, language, 422, texts["error_empty"])
    if len(message) > MAX_MESSAGE:
        return _status_page(request, token, language, 422, texts["error_too_long"], message[:MAX_MESSAGE])
    try:
        with session_scope(engine) as session:
            replies.reply(session, token, message, now)
    except StatusLinkNotFound:
        return not_found(request, language)
    except TooManyReplies as err:
        page = message_page(request, language, 429, "too_many_title", "too_many_text")
        page.headers["retry-after"] = str(err.retry_after_seconds)
        return page
    except (ForbiddenTransition, InvalidAction):
        return _status_page(request, token, language, 409, texts["reply_closed"])
    return RedirectResponse(f"/status/{token}?lang={language}&sent=1", 303, headers=PAGE_HEADERS)
