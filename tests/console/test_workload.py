"""Known agents and queues in the console (issue 16, item 5): the assign form offers the known
agents and queues and refuses others on the page; /console/workload groups the open cases by
assignee; the queue filters by any assignee."""

from __future__ import annotations

import re

import pytest

from tests.casework.builders import CREATOR
from tests.console.conftest import ConsoleWorld

STANDARD = {**CREATOR, "creator": {**CREATOR["creator"], "tier": "standard"}}  # P2: warns at 45 min


def _options(html: str, select_id: str) -> list[str]:
    select = html.split(f'id="{select_id}"')[1].split("</select>")[0]
    return re.findall(r"<option[^>]*>([^<]*)</option>", select)


def _row(html: str, assignee: str) -> dict[str, str]:
    row = html.split(f'data-assignee="{assignee}"')[1].split("</tr>")[0]
    cells = {
        name: re.search(rf'class="count-{name}">(?:<a [^>]*>)?(\d+)', row)
        for name in ("open", "breached", "at-risk")
    }
    found = {name: m.group(1) for name, m in cells.items() if m is not None}
    time = re.search(r'<time datetime="([^"]+)"', row)
    found["deadline"] = time.group(1) if time else ""
    return found


def test_the_assign_form_offers_the_known_agents_and_queues(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    console.sign_in("agent")

    html = console.page(f"/console/cases/{case_id}").text

    assert _options(html, "assign-assignee") == ["unassigned", "agent-1", "ana", "bo", "zoe"]
    assert "<option selected>agent-1</option>" in html.split('id="assign-assignee"')[1]  # the viewer
    assert _options(html, "assign-queue") == ["keep creator-support", "security-specialists", "tns-leads"]


def test_assign_through_the_form_and_a_forged_name_is_refused(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    console.sign_in("agent")

    refused = console.post_action(case_id, "assign", 1, assignee="mallory", queue="")
    moved = console.post_action(case_id, "assign", 1, assignee="zoe", queue="tns-leads")

    assert refused.status_code == 422
    assert "Not applied: &#39;mallory&#39; is not a known agent; known agents: agent-1, ana, bo, zoe." in (
        refused.text
    )
    assert moved.status_code == 303
    page = console.page(f"/console/cases/{case_id}").text
    assert "<dt>Assignee</dt><dd>zoe</dd>" in page and "<dt>Queue</dt><dd>tns-leads</dd>" in page


def test_workload_groups_open_cases_by_assignee(console: ConsoleWorld) -> None:
    late = console.open_case(minutes_ago=20)  # P1: first response breached at 08:55
    risky = console.open_case(STANDARD, minutes_ago=50)  # P2: warned at 08:55, due 09:10
    calm = console.open_case(STANDARD)  # P2: due 10:00
    done = console.open_case()
    for case_id, who in ((late, "ana"), (risky, "ana"), (done, "ana"), (calm, "bo")):
        console.act(case_id, "assign", assignee=who)
    console.act(done, "resolve")
    console.open_case()  # nobody's: P1, due 09:15
    console.sign_in("agent")

    page = console.page("/console/workload")

    assert page.status_code == 200
    html = page.text
    assert re.findall(r'data-assignee="([^"]*)"', html) == ["", "agent-1", "ana", "bo", "zoe"]
    assert _row(html, "ana") == {
        "open": "2",
        "breached": "1",
        "at-risk": "1",
        "deadline": "2026-03-02T08:55:00Z",
    }
    assert _row(html, "bo") == {
        "open": "1",
        "breached": "0",
        "at-risk": "0",
        "deadline": "2026-03-02T10:00:00Z",
    }
    assert _row(html, "") == {
        "open": "1",
        "breached": "0",
        "at-risk": "0",
        "deadline": "2026-03-02T09:15:00Z",
    }
    assert _row(html, "zoe") == {"open": "0", "breached": "0", "at-risk": "0", "deadline": ""}
    assert 'href="/console/queue?assignee=ana&amp;breached=1"' in html
    assert 'href="/console/workload" aria-current="page"' in html
    queue = console.page("/console/queue?assignee=ana").text
    assert sorted(re.findall(r'<tr data-case="([^"]+)"', queue)) == sorted([late, risky])


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("auditor", 403)])
def test_workload_is_for_agents_and_admins(console: ConsoleWorld, role: str, status: int) -> None:
    console.sign_in(role)
    assert console.page("/console/workload").status_code == status
