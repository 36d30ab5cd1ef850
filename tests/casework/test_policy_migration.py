"""The migration service on a real database: migrations chain (rebase, then recompute) and the
audit replays across both; a case the new version cannot replay is reported, not migrated; a
case whose pinned version was changed behind the service's back does not verify."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Engine, text

from casework.audit.verify import verify
from casework.cases.lifecycle import apply_action
from casework.migration.policy_migration import MigrationRequest, run_migration, select_cases
from casework.queries.case_queries import CaseFilters
from models.db import session_scope
from sla_engine.migration import MigrationMode
from tests.casework.builders import T0, at, open_one, register
from tests.engine.builders import PARTNER_RULE, make_policy


def _migrate(engine: Engine, to: int, mode: MigrationMode, minutes: float) -> dict:
    request = MigrationRequest("test-policy", to, mode, "admin:root")
    with engine.connect() as connection, connection.begin():
        targets = select_cases(connection, "test-policy", CaseFilters())
    return run_migration(engine, request, targets, lambda: at(minutes))


def _clean(engine: Engine, minutes: float) -> dict:
    with session_scope(engine, write=False) as session:
        return verify(session, at(minutes)).to_dict()


def test_migrations_chain_and_the_audit_replays_across_both(engine: Engine) -> None:
    register(engine, make_policy(rules=[PARTNER_RULE]), now=T0 - timedelta(days=1))
    case_id = open_one(engine).case.id
    register(engine, make_policy(rules=[PARTNER_RULE], first_response={"P1": "PT10M", "P2": "PT1H"}), now=T0)
    assert _migrate(engine, 2, MigrationMode.REBASE, 5)["counts"]["migrated"] == 1
    with session_scope(engine) as session:
        apply_action(session, case_id, "acknowledge", {}, "agent:ana", at(8))
    strict = {"P1": "PT5M", "P2": "PT30M"}
    register(engine, make_policy(rules=[PARTNER_RULE], first_response=strict), now=at(9))

    answer = _migrate(engine, 3, MigrationMode.RECOMPUTE, 20)

    result = answer["results"][0]
    assert (result["result"], result["from"], result["to"]) == ("migrated", 2, 3)
    assert result["after"]["clocks"]["first_response"] == at(5).isoformat(timespec="microseconds")
    report = _clean(engine, 30)
    assert report["clean"] is True, report["replay_findings"]
    with session_scope(engine, write=False) as session:
        grouped = session.execute(text("SELECT DISTINCT policy_version FROM clock_outcomes")).scalars().all()
    assert grouped == [3]  # the compliance report counts the case under the version it pins
    with session_scope(engine) as session:
        session.execute(text("UPDATE cases SET policy_version = 2 WHERE id = :id"), {"id": case_id})
    findings = _clean(engine, 30)["replay_findings"]
    assert [f["problem"] for f in findings] == ["state_mismatch"]
    assert "pins policy version 2; its history ends on version 3" in findings[0]["detail"]


def _hand_set_p3_then_a_version_without_p3(engine: Engine) -> str:
    """A case whose agent set P3 by hand, then version 2 of its policy knowing only P1 and P2."""
    register(engine, make_policy(rules=[PARTNER_RULE]), now=T0 - timedelta(days=1))
    case_id = open_one(engine).case.id
    with session_scope(engine) as session:
        apply_action(session, case_id, "set_priority", {"priority": "P3"}, "agent:ana", at(1))
    two_priorities = {"P1": "PT15M", "P2": "PT1H"}
    register(
        engine,
        make_policy(
            rules=[PARTNER_RULE], first_response=two_priorities, resolution={"P1": "PT8H", "P2": "P1D"}
        ),
        now=at(2),
    )
    return case_id


def test_a_case_the_new_version_cannot_replay_is_reported_and_left_as_it_was(engine: Engine) -> None:
    _hand_set_p3_then_a_version_without_p3(engine)

    answer = _migrate(engine, 2, MigrationMode.RECOMPUTE, 3)

    result = answer["results"][0]
    assert result["result"] == "invalid" and "P3" in result["detail"]
    assert _clean(engine, 4)["clean"] is True


def test_a_rebase_to_a_version_without_the_priority_set_by_hand_hands_it_to_the_rules(engine: Engine) -> None:
    """It used to fail with a KeyError (a 500 through the API): the hand-set priority was kept as
    the override and had no target in the new version."""
    case_id = _hand_set_p3_then_a_version_without_p3(engine)

    result = _migrate(engine, 2, MigrationMode.REBASE, 3)["results"][0]

    assert (result["result"], result["from"], result["to"]) == ("migrated", 1, 2)
    with session_scope(engine, write=False) as session:
        state = session.execute(
            text("SELECT priority, state FROM cases WHERE id = :id"), {"id": case_id}
        ).one()
    stored = state[1] if isinstance(state[1], dict) else json.loads(state[1])
    assert (state[0], stored.get("priority_override")) == ("P1", None)  # the partner rule decides again
    assert _clean(engine, 4)["clean"] is True
