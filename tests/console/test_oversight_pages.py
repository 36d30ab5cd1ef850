"""Auditors' and admins' pages: breaches (filters, CSV), reports (table, SVG charts, CSV), audit
(verification findings, export) and policies (versions, diff, simulate; read-only for auditors)."""

from __future__ import annotations

import csv
import io
import json

from casework.registry import policy_registry
from models.db import session_scope
from policies.loader import bundled_policies_dir, parse_policy_text
from tests.api.conftest import sample_policy
from tests.audit.tampering import change_field, seq_of
from tests.casework.builders import CREATOR, T0
from tests.console.conftest import ConsoleWorld, csrf_of

BUNDLED = bundled_policies_dir()
STANDARD = {**CREATOR, "creator": {**CREATOR["creator"], "tier": "standard"}}


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_agents_do_not_open_auditors_pages(console: ConsoleWorld) -> None:
    console.sign_in("agent")
    for path in ("/console/breaches", "/console/reports", "/console/audit", "/console/policies"):
        assert console.page(path).status_code == 403, path


def test_breaches_filter_and_download(console: ConsoleWorld) -> None:
    late = console.open_case(minutes_ago=20)  # P1: first response breached at 08:55
    console.open_case(STANDARD, minutes_ago=20)  # P2: nothing breached yet
    console.sign_in("auditor")
    page = console.page("/console/breaches?since=2026-03-02&until=2026-03-02&clock=first_response")
    assert page.status_code == 200
    assert page.text.count('<tr data-case="') == 1 and f'data-case="{late}"' in page.text
    assert '<time datetime="2026-03-02T08:55:00Z">' in page.text
    download = console.page("/console/breaches?since=2026-03-02&format=csv")
    assert download.headers["content-type"].startswith("text/csv")
    rows = _csv(download.text)
    assert [(r["case_id"], r["target"], r["due_at"], r["lateness_seconds"]) for r in rows] == [
        (late, "first_response", "2026-03-02T08:55:00Z", "300.0")
    ]
    assert console.page("/console/breaches?since=yesterday").status_code == 400


def test_reports_table_charts_and_csv(console: ConsoleWorld) -> None:
    console.open_case(minutes_ago=20)
    acknowledged = console.open_case(STANDARD)
    console.act(acknowledged, "acknowledge")
    console.sign_in("auditor")
    page = console.page("/console/reports?from=2026-03-01&to=2026-03-02")
    assert page.status_code == 200
    row = page.text.split('<th scope="row">account_compromised</th>')[1].split("</tr>")[0]
    cells = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]]
    assert cells[:6] == ["2", "first_response", "1", "1", "0", "50.0 %"]
    assert page.text.count("<svg") == 2 and "% met per incident type and clock" in page.text
    compliance = _csv(console.page("/console/reports?from=2026-03-01&to=2026-03-02&table=compliance").text)
    first = next(r for r in compliance if r["clock"] == "first_response")
    assert (first["group"], first["met"], first["breached"], first["percent_met"]) == (
        "account_compromised", "1", "1", "50.0",
    )  # fmt: skip
    lateness = _csv(console.page("/console/reports?from=2026-03-01&to=2026-03-02&table=lateness").text)
    # The first response breach, recorded when the case was opened 5 minutes past its deadline.
    assert {r["bucket"]: int(r["breaches"]) for r in lateness if r["breaches"] != "0"} == {
        "5 min – 60 min": 1
    }
    assert [r["bucket"] for r in lateness][0] == "< 1 s" and lateness[-1]["to_seconds"] == ""


def test_reports_by_assignee_show_each_agents_workload(console: ConsoleWorld) -> None:
    """Grouped by the current assignee (an exact scan, said on the page); the default grouping
    comes from the roll-ups kept on write."""
    ana = console.open_case(minutes_ago=20)  # P1: first response breached
    console.act(ana, "assign", assignee="ana")
    console.act(console.open_case(STANDARD), "acknowledge")  # unassigned, met
    console.sign_in("auditor")
    page = console.page("/console/reports?from=2026-03-01&to=2026-03-02&group_by=assignee")
    assert page.status_code == 200 and '<option value="assignee" selected>' in page.text
    assert "Exact: the period's history scanned (by current assignee)." in page.text
    rows = {}
    for key in ("ana", "(unassigned)"):
        row = page.text.split(f'<th scope="row">{key}</th>')[1].split("</tr>")[0]
        rows[key] = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]][:5]
    assert rows == {
        "ana": ["1", "first_response", "0", "1", "0"],
        "(unassigned)": ["1", "first_response", "1", "0", "0"],
    }
    default = console.page("/console/reports?from=2026-03-01&to=2026-03-02")
    assert "From the roll-ups kept on write: counts exact, medians and p90 within 1.0 %." in default.text


def test_audit_verifies_and_shows_findings(console: ConsoleWorld) -> None:
    case_id = console.open_case(minutes_ago=20)
    console.sign_in("auditor")
    clean = console.page("/console/audit?run=1")
    assert "<strong>Clean.</strong> 1 case(s)" in clean.text
    change_field(console.engine, case_id, seq_of(console.engine, case_id, "breached"), actor="agent:mallory")
    tampered = console.page(f"/console/audit?run=1&case_id={case_id}")
    assert "<strong>Findings.</strong> 1 chain problem(s)" in tampered.text
    assert f'<a href="/console/cases/{case_id}">' in tampered.text.split("Chain problems")[1]
    assert console.page("/console/audit?run=1&case_id=cs_nope").status_code == 404


def test_audit_export_as_csv_and_jsonl(console: ConsoleWorld) -> None:
    case_id = console.open_case()
    console.sign_in("auditor")
    jsonl = console.page("/console/audit/export?from=2026-03-02&to=2026-03-02&format=jsonl")
    assert jsonl.headers["content-disposition"] == (
        'attachment; filename="lifeline-events-2026-03-02-2026-03-02.jsonl"'
    )
    kinds = [json.loads(line)["kind"] for line in jsonl.text.splitlines()]
    assert kinds[0] == "opened"
    rows = _csv(console.page("/console/audit/export?format=csv").text)
    assert rows[0]["case_id"] == case_id and rows[0]["kind"] == "opened"
    assert console.page("/console/audit/export?format=xml").status_code == 400


def _register_bundled_twice(console: ConsoleWorld) -> None:
    """account-compromised v1 (as bundled) and v2 (P1 first response 20 minutes, not 15)."""
    text = (BUNDLED / "account_compromised.json").read_text()
    for version_text in (text, text.replace('"P1": "PT15M"', '"P1": "PT20M"', 1)):
        with session_scope(console.engine) as session:
            policy = parse_policy_text(version_text, "account_compromised.json")
            policy_registry.register_policies(session, [policy], T0)


def test_policies_list_diff_and_simulate(console: ConsoleWorld) -> None:
    _register_bundled_twice(console)
    console.sign_in("admin")
    listing = console.page("/console/policies")
    assert '<a href="/console/policies/account-compromised">account-compromised</a>' in listing.text
    row = listing.text.split("account-compromised</a>")[1].split("</tr>")[0]
    assert "<td>2</td><td>2</td>" in row  # latest version 2, two versions
    page = console.page("/console/policies/account-compromised?a=1&b=2")
    assert page.status_code == 200
    changed = [line for line in page.text.split("<tr ") if 'data-tag="changed"' in line]
    assert len(changed) == 1 and "PT15M" in changed[0] and "PT20M" in changed[0]
    assert "1 line(s) differ between version 1 and version 2" in page.text
    simulated = console.client.post(
        "/console/policies/account-compromised/simulate",
        data={
            "csrf": csrf_of(page.text),
            "case": json.dumps({"opened_at": "2026-03-02T09:00:00Z", "attributes": CREATOR}),
            "actions": "[]",
        },
    )
    assert simulated.status_code == 200
    assert (
        "Timeline (version 2)" in simulated.text
        and '<svg xmlns="http://www.w3.org/2000/svg"' in simulated.text
    )
    assert 'data-kind="breached"' in simulated.text and "2026-03-02T09:20:00Z" in simulated.text
    # Never resolved: the last stage repeats its notifications for 90 days; the page shows 300 rows.
    assert "Showing the first 300 of" in simulated.text
    assert simulated.text.count("<tr data-kind=") == 300
    bad = console.client.post(
        "/console/policies/account-compromised/simulate",
        data={"csrf": csrf_of(page.text), "case": "{not json", "actions": "[]"},
    )
    assert bad.status_code == 422 and "/case: not valid JSON" in bad.text


def test_auditors_read_policies_without_simulating(console: ConsoleWorld) -> None:
    assert sample_policy() is not None
    console.sign_in("auditor")
    page = console.page("/console/policies/test-policy")
    assert page.status_code == 200 and "admins simulate them" in page.text
    assert 'action="/console/policies/test-policy/simulate' not in page.text
    forged = console.client.post(
        "/console/policies/test-policy/simulate",
        data={"csrf": csrf_of(page.text), "case": "{}", "actions": "[]"},
    )
    assert forged.status_code == 403
