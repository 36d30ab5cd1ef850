"""The agents' queue: open cases by nearest deadline, filters in the URL, paging, the live-update
endpoint, and countdown states as the server renders them."""

from __future__ import annotations

import re

import pytest

from console import queue
from tests.casework.builders import CREATOR
from tests.console.conftest import ConsoleWorld

STANDARD = {
    **CREATOR,
    "creator": {**CREATOR["creator"], "tier": "standard", "handle": "@bo", "platform": "twitch"},
}


def _row_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-case="([^"]+)"', html)


def test_open_cases_by_nearest_deadline_with_what_an_agent_needs(console: ConsoleWorld) -> None:
    later = console.open_case(STANDARD)  # P2: first response in 1 h
    sooner = console.open_case()  # partner: P1, first response in 15 min
    resolved = console.open_case()
    console.act(resolved, "resolve")
    console.sign_in("agent")
    page = console.page("/console/queue")
    assert _row_ids(page.text) == [sooner, later]
    row = page.text.split(f'data-case="{sooner}"')[1].split("</tr>")[0]
    assert "@mia" in row and "youtube" in row and "account_compromised" in row
    assert "<strong>P1</strong>" in row and "rule 1: partner or top creator" in row
    assert "frontline" in row and "unassigned" in row
    assert '<time datetime="2026-03-02T09:15:00Z"' in row and "in 15m 00s" in row
    assert "on time" in row and "first_response" in row


def test_countdown_turns_at_risk_then_breached(console: ConsoleWorld) -> None:
    case_id = console.open_case()  # P1: first response due 09:15, warn at 0.75
    console.sign_in("agent")
    console.clock.advance(minutes=12)
    row = console.page("/console/queue").text.split(f'data-case="{case_id}"')[1]
    assert 'class="countdown warn"' in row and "at risk" in row and "in 3m 00s" in row
    console.clock.advance(minutes=5)
    row = console.page("/console/queue").text.split(f'data-case="{case_id}"')[1]
    assert 'class="countdown breached"' in row and "2m 00s overdue" in row


def test_a_recorded_warning_stays_at_risk(console: ConsoleWorld) -> None:
    # Opened 50 minutes ago at P2: the warning at 45 minutes is recorded on opening (the engine
    # then clears warn_due_at), first response still 10 minutes away.
    case_id = console.open_case(STANDARD, minutes_ago=50)
    console.sign_in("agent")
    row = console.page("/console/queue").text.split(f'data-case="{case_id}"')[1].split("</tr>")[0]
    assert 'class="countdown warn"' in row and "at risk" in row and "in 10m 00s" in row
    assert 'data-warn="2026-03-02T09:00:00Z"' in row  # a past instant: the script keeps it at risk


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("priority=P2", ["standard"]),
        ("assignee=me", ["mine"]),
        ("waiting=1", ["waiting"]),
        ("queue=creator-support&priority=P1", ["mine", "waiting"]),
        ("incident_type=impersonation", []),
    ],
)
def test_filters_live_in_the_url(console: ConsoleWorld, query: str, expected: list[str]) -> None:
    ids = {
        "standard": console.open_case(STANDARD),
        "mine": console.open_case(),
        "waiting": console.open_case(),
    }
    console.act(ids["mine"], "assign", assignee="agent-1")
    console.act(ids["waiting"], "request_info")
    console.sign_in("agent")
    page = console.page(f"/console/queue?{query}")
    assert sorted(_row_ids(page.text)) == sorted(ids[name] for name in expected)
    if "priority=P2" in query:
        assert "<option selected>P2</option>" in page.text


def test_breached_filter(console: ConsoleWorld) -> None:
    late = console.open_case(minutes_ago=20)  # P1 first response breached at opening+15 min
    console.open_case()
    console.sign_in("agent")
    assert _row_ids(console.page("/console/queue?breached=1").text) == [late]


def test_cursor_paging_keeps_the_filters(console: ConsoleWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "PAGE_SIZE", 2)
    opened = [console.open_case(minutes_ago=5 - n) for n in range(5)]
    console.sign_in("agent")
    first = console.page("/console/queue?priority=P1")
    assert _row_ids(first.text) == opened[:2]
    link = re.search(r'href="(/console/queue\?[^"]*cursor=[^"]+)" rel="next"', first.text)
    assert link is not None and "priority=P1" in link.group(1)
    second = console.page(link.group(1).replace("&amp;", "&"))
    assert _row_ids(second.text) == opened[2:4]
    assert console.page("/console/queue?cursor=garbage").status_code == 400


def test_rows_endpoint_answers_304_until_something_changes(console: ConsoleWorld) -> None:
    first = console.open_case()
    console.sign_in("agent")
    rows = console.page("/console/queue/rows")
    assert rows.status_code == 200 and _row_ids(rows.text) == [first]
    etag = rows.headers["etag"]
    console.clock.advance(seconds=30)  # time alone is the script's business
    assert console.client.get("/console/queue/rows", headers={"If-None-Match": etag}).status_code == 304
    second = console.open_case(STANDARD)
    fresh = console.client.get("/console/queue/rows", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and _row_ids(fresh.text) == [first, second]
    console.act(first, "acknowledge")
    assert (
        console.client.get(
            "/console/queue/rows", headers={"If-None-Match": fresh.headers["etag"]}
        ).status_code
        == 200
    )


def test_case_values_are_escaped(console: ConsoleWorld) -> None:
    console.open_case({**CREATOR, "summary": "<script>alert(1)</script>"})
    console.sign_in("agent")
    page = console.page("/console/queue").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
