"""on_child_breach in the worker's sweep: a child's timed breach escalates its parent in the same
transaction, once however many children breached; a parent at its last stage stays."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine

from casework.cases.escalations import apply_due_timers, claim_due_cases
from casework.links.linking import open_child
from casework.queries.case_queries import get_case
from models.db import session_scope
from tests.casework.builders import CREATOR, T0, register
from tests.engine.builders import make_policy

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
