"""The creator's status page and replies, over HTTP through the real app: plain language in English
or Italian, the promised deadlines, the agent's request verbatim, the public conversation (never
notes), the reply that resumes a paused clock, the hourly limit and the form's CSRF token."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiWorld
from tests.casework.builders import T0
from tests.creator.conftest import CREATOR_ATTRIBUTES, token_of


def _open(api: ApiWorld) -> tuple[dict[str, Any], str]:
    case = api.open_case(CREATOR_ATTRIBUTES)
    return case, token_of(str(case["creator_link"]))


def _page(api: ApiWorld, token: str, **headers: str) -> httpx.Response:
    return api.client.get(f"/status/{token}", headers=headers)


def _form_token(page: str) -> str:
    found = re.search(r'name="form_token" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found.group(1)


def _reply(api: ApiWorld, token: str, message: str, form_token: str | None = None) -> httpx.Response:
    if form_token is None:
        form_token = _form_token(_page(api, token).text)
    response: httpx.Response = api.client.post(
        f"/status/{token}/reply?lang=en",
        data={"message": message, "form_token": form_token},
        follow_redirects=False,
    )
    return response


def test_the_page_says_in_italian_what_the_case_is_and_what_was_promised(creator_api: ApiWorld) -> None:
    _case, token = _open(creator_api)

    page = _page(creator_api, token, **{"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"})

    assert page.status_code == 200
    assert '<html lang="it">' in page.text
    assert "Il tuo account è stato compromesso" in page.text
    assert "Il nostro team di supporto ha preso in carico il tuo caso" in page.text
    assert "Ti risponderemo entro" in page.text and "Risolto entro" in page.text
    # P1 (a partner): first response 15 minutes, resolution 8 hours after opening.
    assert '<time datetime="2026-03-02T09:15:00Z">2026-03-02 09:15 UTC</time>' in page.text
    assert '<time datetime="2026-03-02T17:00:00Z">2026-03-02 17:00 UTC</time>' in page.text
    # The page's own links carry the random token, which may spell "P1" by chance: left out.
    shown = page.text.replace(token, "<token>")
    for internal in ("creator-support", "frontline", "security-specialists", "agent-1", "P1"):
        assert internal not in shown


def test_lang_in_the_query_wins_over_accept_language(creator_api: ApiWorld) -> None:
    _case, token = _open(creator_api)
    english = creator_api.client.get(f"/status/{token}?lang=en", headers={"Accept-Language": "it"})
    assert '<html lang="en">' in english.text and "Your account was taken over" in english.text
    assert '<html lang="en">' in _page(creator_api, token, **{"Accept-Language": "de"}).text


def test_security_headers_and_one_404_page_for_every_bad_link(creator_api: ApiWorld) -> None:
    case, token = _open(creator_api)
    good = _page(creator_api, token)
    assert good.headers["referrer-policy"] == "no-referrer"
    assert good.headers["x-robots-tag"] == "noindex, nofollow"
    assert "script-src 'self'" in good.headers["content-security-policy"]
    assert '<meta name="robots" content="noindex, nofollow">' in good.text

    rotated = creator_api.post(f"/v1/cases/{case['id']}/creator-link").json()["creator_link"]
    assert token_of(rotated) != token
    pages = [_page(creator_api, t) for t in (token, "A" * 43, "short")]
    assert [p.status_code for p in pages] == [404, 404, 404]
    assert len({p.text for p in pages}) == 1
    assert pages[0].headers["referrer-policy"] == "no-referrer"
    assert case["id"] not in pages[0].text


def test_the_creator_sees_public_replies_and_the_request_but_never_notes(creator_api: ApiWorld) -> None:
    case, token = _open(creator_api)
    creator_api.act(str(case["id"]), "note", text="internal: suspect SIM swap")
    creator_api.act(str(case["id"]), "reply", message="We are on it <b>now</b>.")
    creator_api.act(str(case["id"]), "request_info", reason="Send us the email of the login alert.")

    page = _page(creator_api, token, **{"Accept-Language": "en"}).text

    assert "suspect SIM swap" not in page
    assert "We are on it &lt;b&gt;now&lt;/b&gt;." in page
    assert "We need something from you" in page
    assert "Send us the email of the login alert." in page
    assert "On hold while we wait for your answer" in page


def test_a_reply_resumes_the_clock_paused_for_the_creator(creator_api: ApiWorld) -> None:
    case, token = _open(creator_api)
    creator_api.act(str(case["id"]), "acknowledge")
    creator_api.act(str(case["id"]), "request_info", reason="Which phone number is on the account?")
    creator_api.clock.advance(hours=1)

    sent = _reply(creator_api, token, "It ends in 42 <script>alert(1)</script>")

    assert sent.status_code == 303
    assert sent.headers["location"] == f"/status/{token}?lang=en&sent=1"
    view = creator_api.get(f"/v1/cases/{case['id']}").json()
    assert view["status"] == "in_progress"
    resolution = next(c for c in view["clocks"] if c["name"] == "resolution")
    assert resolution["state"] == "running"
    assert resolution["due_at"].startswith("2026-03-02T18:00:00")  # 8 h + the hour it waited
    events = creator_api.get(f"/v1/cases/{case['id']}/events").json()["items"]
    replied = [e for e in events if "message" in e["data"]]
    assert [(e["kind"], e["actor"], e["data"]["message"]) for e in replied] == [
        ("status_changed", "creator", "It ends in 42 <script>alert(1)</script>")  # the resuming change
    ]
    page = creator_api.client.get(sent.headers["location"]).text
    assert "It ends in 42 &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "your message has reached us" in page


def test_a_message_when_not_waiting_is_recorded_without_moving_the_case(creator_api: ApiWorld) -> None:
    case, token = _open(creator_api)
    assert _reply(creator_api, token, "Also my email was changed").status_code == 303
    view = creator_api.get(f"/v1/cases/{case['id']}").json()
    assert view["status"] == "open"
    creator_api.act(str(case["id"]), "request_info", reason="Which email?")
    assert _reply(creator_api, token, "old@example.com").status_code == 303
    creator_api.act(str(case["id"]), "reply", message="Thanks, fixed.")
    verify = creator_api.get("/v1/audit/verify", who="auditor").json()
    assert verify["clean"] is True, verify  # the replay accepts every creator and public message


def test_bad_form_token_empty_and_too_long_messages_are_refused(creator_api: ApiWorld) -> None:
    case, token = _open(creator_api)
    assert _reply(creator_api, token, "hello", form_token="0" * 64).status_code == 403
    assert _reply(creator_api, token, "   ").status_code == 422
    too_long = _reply(creator_api, token, "x" * 5001)
    assert too_long.status_code == 422 and "longer than 5,000" in too_long.text
    assert _reply(creator_api, token, "x" * 5000).status_code == 303
    events = creator_api.get(f"/v1/cases/{case['id']}/events").json()["items"]
    assert [len(e["data"]["message"]) for e in events if e["kind"] == "creator_replied"] == [5000]


def test_a_form_of_a_rotated_link_is_not_accepted(creator_api: ApiWorld) -> None:
    case, token = _open(creator_api)
    form_token = _form_token(_page(creator_api, token).text)
    new = token_of(creator_api.post(f"/v1/cases/{case['id']}/creator-link").json()["creator_link"])
    assert _reply(creator_api, token, "hi", form_token).status_code == 404
    assert _reply(creator_api, new, "hi", form_token).status_code == 403


def test_twenty_replies_an_hour_then_a_clear_429_page(creator_api: ApiWorld) -> None:
    _case, token = _open(creator_api)
    form_token = _form_token(_page(creator_api, token).text)
    for n in range(20):
        creator_api.clock.advance(minutes=1)
        assert _reply(creator_api, token, f"message {n}", form_token).status_code == 303

    refused = _reply(creator_api, token, "one more", form_token)

    assert refused.status_code == 429
    assert "Too many messages" in refused.text
    assert int(refused.headers["retry-after"]) == 41 * 60 + 1  # 09:01 leaves the hour at 10:01
    creator_api.clock.now = T0 + timedelta(hours=1, minutes=1)
    assert _reply(creator_api, token, "later", form_token).status_code == 303


def test_a_closed_case_shows_no_form_and_refuses_replies(creator_api: ApiWorld) -> None:
    case, token = _open(creator_api)
    form_token = _form_token(_page(creator_api, token).text)
    creator_api.act(str(case["id"]), "resolve")
    creator_api.act(str(case["id"]), "close")
    page = _page(creator_api, token, **{"Accept-Language": "en"})
    assert "<textarea" not in page.text and "it takes no more messages" in page.text
    assert _reply(creator_api, token, "hello?", form_token).status_code == 409


@pytest.mark.parametrize("status", ["closed"])
def test_agents_cannot_reply_on_a_closed_case(creator_api: ApiWorld, status: str) -> None:
    case, _token = _open(creator_api)
    creator_api.act(str(case["id"]), "resolve")
    creator_api.act(str(case["id"]), "close")
    refused = creator_api.act(str(case["id"]), "reply", expect=409, message="hello")
    assert "cannot reply a case that is closed" in refused["detail"]


def test_one_creator_sees_every_open_case_from_any_of_their_links(creator_api: ApiWorld) -> None:
    first, first_token = _open(creator_api)
    second, second_token = _open(creator_api)
    someone_else = {**CREATOR_ATTRIBUTES, "creator": {"id": "cr_other", "contact_email": "x@example.com"}}
    creator_api.open_case(someone_else)
    closed, _closed_token = _open(creator_api)
    creator_api.act(str(closed["id"]), "resolve")
    creator_api.act(str(closed["id"]), "close")

    page = _page(creator_api, first_token, **{"Accept-Language": "en"}).text

    others = re.findall(r'<li><a href="/status/([A-Za-z0-9_-]{43})\?lang=en">', page)
    assert others == [second_token]
    assert "Your other open cases" in page
    back = _page(creator_api, second_token, **{"Accept-Language": "en"}).text
    assert re.findall(r'<li><a href="/status/([A-Za-z0-9_-]{43})\?lang=en">', back) == [first_token]
    assert second["id"] != first["id"]
