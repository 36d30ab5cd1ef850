"""on_child_breach in the worker's sweep: a child's timed breach escalates its parent in the same
transaction, once however many children breached; a parent at its last stage stays; a related or
duplicate link is not a parent's."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from casework.cases.escalations import apply_due_timers, claim_due_cases
from casework.links.linking import link_cases, open_child
from casework.queries.case_queries import get_case
from models.db import session_scope
from models.kinds import LinkKind
from models.tables import Case
from tests.casework.builders import CREATOR, T0, register
from tests.engine.builders import make_policy
from tests.lock_waits import wait_for_a_lock_wait

WAVE = replace(make_policy(), id="partner-wave", incident_type="partner_wave", on_child_breach="escalate")


def test_the_sweep_escalates_the_parent_once_when_its_children_breach(engine: Engine) -> None:
    register(engine, make_policy(), now=T0 - timedelta(days=1))
    register(engine, WAVE, now=T0 - timedelta(days=1))
    from casework.cases.lifecycle import open_case

    with session_scope(engine) as session:
        parent = open_case(
            session, incident_type="partner_wave", attributes=CREATOR, actor="agent:ana", now=T0
        ).case
        for _ in range(2):
            open_child(
                session,
                parent.id,
                attributes={},
                actor="agent:ana",
                now=T0,
                incident_type="account_compromised",
            )
    sweep_at = T0 + timedelta(minutes=61)  # children and parent miss first_response (P2: 1 h)

    with session_scope(engine) as session:
        apply_due_timers(session, claim_due_cases(session, sweep_at), sweep_at)

    with session_scope(engine, write=False) as session:
        stored = get_case(session, parent.id)
        assert stored.stage == "security"
        assert stored.state["escalations"] == 1


def test_only_a_parent_link_escalates_a_case_when_the_other_breaches(engine: Engine) -> None:
    register(engine, make_policy(), now=T0 - timedelta(days=1))
    register(engine, WAVE, now=T0 - timedelta(days=1))
    from casework.cases.lifecycle import open_case

    with session_scope(engine) as session:
        wave = [
            open_case(
                session, incident_type="partner_wave", attributes=CREATOR, actor="agent:ana", now=T0
            ).case
            for _ in range(2)
        ]
        other = open_case(
            session, incident_type="account_compromised", attributes={}, actor="agent:ana", now=T0
        )
        # All three miss first_response at the sweep: only a parent link would escalate a wave case.
        link_cases(session, wave[0].id, LinkKind.RELATED, other.case.id, "agent:ana", T0)
        link_cases(session, other.case.id, LinkKind.DUPLICATE_OF, wave[1].id, "agent:ana", T0)
    sweep_at = T0 + timedelta(minutes=61)

    with session_scope(engine) as session:
        changes = apply_due_timers(session, claim_due_cases(session, sweep_at), sweep_at)
    assert other.case.id in {c.case.id for c in changes if c.breaches}

    with session_scope(engine, write=False) as session:
        assert [get_case(session, case.id).state["escalations"] for case in wave] == [0, 0]


@pytest.mark.parametrize("breach_by", ["sweep", "action"])
def test_an_agent_acting_on_a_parent_while_a_child_breach_escalates_it_waits_instead_of_deadlocking(
    engine: Engine, breach_by: str
) -> None:
    """PostgreSQL: a child's breach, written by the sweep or by an agent's action on the child
    (its due timers first), locks the child's parents before the roll-ups are written, so another
    agent's transaction that holds the parent and then writes the same roll-up rows (here:
    acknowledging a sibling of the child, same day and group) finishes first, and the breach's
    transaction goes on after it. Before, each waited for the other and PostgreSQL aborted one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: a transaction never waits for another's rows")
    from casework.cases.lifecycle import apply_action, open_case

    register(engine, make_policy(), now=T0 - timedelta(days=1))
    register(engine, WAVE, now=T0 - timedelta(days=1))
    with session_scope(engine) as session:
        parent = open_case(
            session, incident_type="partner_wave", attributes=CREATOR, actor="agent:ana", now=T0
        )
        child, _ = open_child(
            session,
            parent.case.id,
            attributes={},
            actor="agent:ana",
            now=T0,
            incident_type="account_compromised",
        )
    with session_scope(engine) as session:  # neither due at the sweep: the parent acknowledged,
        apply_action(session, parent.case.id, "acknowledge", {}, "agent:ana", T0 + timedelta(minutes=1))
        sibling = open_case(  # the sibling opened later the same day, in the child's group
            session,
            incident_type="account_compromised",
            attributes={},
            actor="agent:ana",
            now=T0 + timedelta(minutes=30),
        ).case
    sweep_at = T0 + timedelta(minutes=61)  # the child breached first_response (P2: 1 h)
    failures: list[BaseException] = []

    def breach() -> None:
        try:
            with session_scope(engine) as session:
                if breach_by == "sweep":
                    apply_due_timers(session, claim_due_cases(session, sweep_at), sweep_at)
                else:
                    apply_action(session, child.case.id, "acknowledge", {}, "agent:cy", sweep_at)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)

    sweeper = threading.Thread(target=breach)
    with session_scope(engine) as agent:
        agent.get(Case, parent.case.id, with_for_update=True)  # an agent's action on the parent, begun
        sweeper.start()
        wait_for_a_lock_wait(engine)
        apply_action(agent, sibling.id, "acknowledge", {}, "agent:bo", sweep_at)
    sweeper.join(timeout=30)

    assert not sweeper.is_alive() and failures == []
    with session_scope(engine, write=False) as session:
        assert get_case(session, parent.case.id).stage == "security"  # escalated by the child's breach
        assert get_case(session, sibling.id).status == "acknowledged"
