"""The console shows a policy's lifecycle: a retired policy says so on the policies page, and a
migrated case's timeline says in words which versions it moved between and how its next deadline
moved."""

from __future__ import annotations

from datetime import timedelta

from casework.migration.policy_migration import MigrationRequest, run_migration, select_cases
from casework.queries.case_queries import CaseFilters
from casework.registry.policy_lifecycle import retire_policy
from models.db import session_scope
from sla_engine.migration import MigrationMode
from tests.casework.builders import T0, register
from tests.console.conftest import ConsoleWorld
from tests.engine.builders import PARTNER_RULE, make_policy


def test_a_migrated_case_reads_as_a_sentence_and_a_retired_policy_says_so(console: ConsoleWorld) -> None:
    case_id = console.open_case()  # P1: first response due at 09:15
    register(console.engine, make_policy(rules=[PARTNER_RULE], first_response="PT5M"), now=T0)
    request = MigrationRequest("test-policy", 2, MigrationMode.REBASE, "admin:root")
    with console.engine.connect() as connection, connection.begin():
        targets = select_cases(connection, "test-policy", CaseFilters())
    run_migration(console.engine, request, targets, lambda: T0 + timedelta(minutes=1))
    with session_scope(console.engine) as session:
        retire_policy(session, "test-policy", T0 + timedelta(minutes=2))
    console.sign_in("admin")

    page = console.page(f"/console/cases/{case_id}")
    policies = console.page("/console/policies")

    row = page.text.split('<tr data-kind="policy_migrated">')[1].split("</tr>")[0]
    assert "<td>policy migrated</td>" in row
    assert (
        '<p class="said">policy version 1 -&gt; 2 (rebase), next deadline '
        "2026-03-02T09:11:15.000000+00:00 -&gt; 2026-03-02T09:03:45.000000+00:00</p>"
    ) in row
    listed = policies.text.split("test-policy</a>")[1].split("</tr>")[0]
    assert 'retired <time datetime="2026-03-02T09:02:00Z">' in listed
