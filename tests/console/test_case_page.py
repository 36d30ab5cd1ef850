"""A case's page: clocks, ladder, timeline, and the action forms with their version checks."""

from __future__ import annotations

import re

import pytest

from console import case_page
from tests.casework.builders import CREATOR
from tests.console.conftest import ConsoleWorld


def test_the_page_shows_clocks_ladder_and_timeline(console: ConsoleWorld) -> None:
    case_id = console.open_case(minutes_ago=20)  # first response breached 5 minutes ago
    console.sign_in("agent")
    page = console.page(f"/console/cases/{case_id}")
    assert page.status_code == 200
    html = page.text
    assert "<title>Case " + case_id + " · Lifeline</title>" in html
    first = html.split('data-clock="first_response"')[1].split("</tr>")[0]
    assert '<time datetime="2026-03-02T08:55:00Z">' in first  # opened 08:40 + 15 min
    assert "breached by 5m 00s" in first and "running" in first
    assert 'aria-current="step"' in html and "frontline" in html
    assert '<time datetime="2026-03-02T09:10:00Z">' in html  # frontline escalates 30 min after opening
    timeline = html.split('id="h-timeline"')[1]
    assert 'data-kind="opened"' in timeline and 'data-kind="breached"' in timeline
    assert "timer " in timeline  # the breach's dedupe key names what caused it
    assert '<form method="post" action="/console/cases/' in html
    assert 'id="form-acknowledge"' in html and 'id="form-reopen"' not in html


def test_the_timeline_says_each_event_in_words_with_its_data_one_click_away(console: ConsoleWorld) -> None:
    case_id = console.open_case(minutes_ago=20)  # first response breached 5 minutes ago
    console.sign_in("agent")
    console.act(case_id, "note", text="Recovery phone is not theirs")
    timeline = console.page(f"/console/cases/{case_id}").text.split('id="h-timeline"')[1]

    def row(kind: str) -> str:
        return timeline.split(f'<tr data-kind="{kind}">')[1].split("</tr>")[0]

    breached, opened = row("breached"), row("opened")
    assert '<p class="said">first_response breached at its deadline (target 15m), priority ' in breached
    assert '<p class="said">opened as ' in opened and "in frontline, queue creator-support" in opened
    assert '<p class="said">note: Recovery phone is not theirs</p>' in row("note_added")
    # The exact record stays on the page, folded: the event's data as stored.
    assert '<details class="data"><summary>Data</summary><code class="data">{' in row("breached")
    assert "&#34;clock&#34;: &#34;first_response&#34;" in row("breached")


def test_acknowledge_through_the_form(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    console.sign_in("agent")
    response = console.post_action(case_id, "acknowledge", 1)
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/cases/{case_id}?done=acknowledge#actions"
    page = console.client.get(response.headers["location"]).text
    assert 'id="case-status">acknowledged<' in page and "Done: Acknowledge." in page
    assert "agent:agent-1" in page.split('id="h-timeline"')[1]
    assert 'id="form-acknowledge"' not in page


def test_a_stale_form_shows_who_changed_the_case_and_the_fresh_case(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    console.sign_in("agent")
    console.client.get(f"/console/cases/{case_id}")  # rendered at version 1
    console.clock.advance(minutes=2)
    console.act(case_id, "assign", actor="agent:zoe", assignee="zoe")  # version 2
    response = console.post_action(case_id, "acknowledge", 1)
    assert response.status_code == 409
    assert "Changed by agent:zoe at 2026-03-02 09:02:00 UTC" in response.text
    assert 'id="case-status">open<' in response.text  # nothing applied
    assert "<dd>zoe</dd>" in response.text  # the fresh case
    assert 'name="version" value="2"' in response.text


def test_refusals_come_back_on_the_page(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    console.sign_in("agent")
    forbidden = console.post_action(case_id, "reopen", 1)
    assert forbidden.status_code == 409
    assert "Not possible now: cannot reopen a case that is open" in forbidden.text
    missing = console.post_action(case_id, "note", 1, text="  ")
    assert missing.status_code == 422 and "Not applied: text is required." in missing.text
    note = console.post_action(case_id, "note", 1, text="<b>called</b> the creator")
    assert note.status_code == 303
    page = console.page(f"/console/cases/{case_id}").text
    assert "&lt;b&gt;called&lt;/b&gt; the creator" in page


def test_set_priority_and_escalate_forms(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    console.sign_in("agent")
    assert console.post_action(case_id, "set_priority", 1, priority="P3").status_code == 303
    assert console.post_action(case_id, "escalate", 2, to_stage="").status_code == 303
    page = console.page(f"/console/cases/{case_id}").text
    assert "<strong>P3</strong>" in page and "(set by hand)" in page
    current = page.split('aria-current="step"')[1].split("</li>")[0]
    assert "<strong>security</strong>" in current


def test_unknown_case_is_a_page_not_json(console: ConsoleWorld) -> None:
    console.sign_in("agent")
    response = console.page("/console/cases/cs_nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is no case cs_nope." in response.text


def test_version_endpoint_names_the_last_change(console: ConsoleWorld) -> None:
    case_id = console.open_case({**CREATOR})
    console.sign_in("agent")
    console.act(case_id, "acknowledge", actor="agent:zoe")
    assert console.client.get(f"/console/cases/{case_id}/version").json() == {
        "version": 2,
        "by": "agent:zoe",
        "at": "2026-03-02T09:00:00Z",
    }


def test_reply_and_ask_the_creator_until(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    console.sign_in("agent")
    assert console.post_action(case_id, "reply", 1, message="We are on it").status_code == 303
    asked = console.post_action(case_id, "request_info", 2, until="2026-03-02T12:00:00Z")
    assert asked.status_code == 303
    page = console.page(f"/console/cases/{case_id}").text
    timeline = page.split('id="h-timeline"')[1]
    assert 'data-kind="replied"' in timeline and "We are on it" in timeline
    assert 'id="case-status">waiting on creator<' in page
    assert "2026-03-02T12:00:00" in timeline
    not_an_instant = console.post_action(case_id, "creator_replied", 3)
    assert not_an_instant.status_code == 303  # resumes before the wait ran out


def test_the_timeline_shows_the_latest_events_unless_asked(
    console: ConsoleWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(case_page, "TIMELINE_EVENTS", 2)
    case_id = console.open_case()
    for n in range(3):
        console.act(case_id, "note", text=f"note {n}")
    console.sign_in("agent")
    page = console.page(f"/console/cases/{case_id}").text.split('id="h-timeline"')[1]
    assert page.count("<tr data-kind=") == 2 and "The latest 2 of 4 events." in page
    assert "note 2" in page and "note 0" not in page
    every = console.page(f"/console/cases/{case_id}?timeline=all").text.split('id="h-timeline"')[1]
    assert every.count("<tr data-kind=") == 4 and "Show every event" not in every


def test_every_event_is_one_link_away_from_a_long_timeline(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    for n in range(case_page.TIMELINE_EVENTS + 5):
        console.act(case_id, "note", text=f"note {n}")
    total = case_page.TIMELINE_EVENTS + 6  # opened, then the notes
    console.sign_in("agent")
    page = console.page(f"/console/cases/{case_id}").text.split('id="h-timeline"')[1]
    assert page.count("<tr data-kind=") == case_page.TIMELINE_EVENTS
    assert f"The latest {case_page.TIMELINE_EVENTS} of {total} events." in page
    assert 'data-kind="opened"' not in page and f"note {total - 2}" in page
    link = re.search(r'<a href="([^"]+)">Show every event</a>', page)
    assert link is not None
    every = console.page(link.group(1).replace("&amp;", "&")).text.split('id="h-timeline"')[1]
    assert every.count("<tr data-kind=") == total and 'data-kind="opened"' in every
    seqs = [int(s) for s in re.findall(r'<tr data-kind="[^"]+">\s*<td>(\d+)</td>', every)]
    assert seqs == list(range(1, total + 1))  # oldest first, none missing


def test_merge_into_another_case(console: ConsoleWorld) -> None:
    duplicate, survivor = console.open_case(), console.open_case()
    console.sign_in("agent")
    itself = console.post_action(duplicate, "merge_into", 1, into=duplicate)
    assert itself.status_code == 422 and "a case cannot be merged into itself" in itself.text
    merged = console.post_action(duplicate, "merge_into", 1, into=survivor)
    assert merged.status_code == 303
    page = console.page(f"/console/cases/{duplicate}").text
    assert 'id="case-status">merged<' in page and "No action is possible in status merged." in page
