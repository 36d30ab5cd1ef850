"""Replay verification: clean histories verify clean; a forger who re-seals the chain is still caught
by the replay, with the case, the seq and both versions of the truth."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from casework.errors import CaseNotFound
from models.db import session_scope
from models.tables import CaseEvent
from tests.audit.builders import simulate_histories
from tests.audit.conftest import WorkedCases, act, register_p1, run_verify, sweep
from tests.audit.tampering import change_field, delete_event, events_of, insert_event, reseal, seq_of
from tests.casework.builders import at, open_one


def events_of_all(engine: Engine) -> list[CaseEvent]:
    with session_scope(engine, write=False) as session:
        return list(session.exec(select(CaseEvent)))


def test_worked_cases_verify_clean_with_their_lateness(engine: Engine, worked_cases: WorkedCases) -> None:
    report = run_verify(engine)

    result = report.to_dict()
    assert result["clean"] is True and result["cases_checked"] == 2
    assert result["chain_problems"] == [] and result["replay_findings"] == [] and result["overdue"] == []
    # at_risk recorded 45 s after 09:11:15; the 09:30 stage breach, escalation and notification 60 s
    # late: [45, 60, 60, 60] -> p50 at position 1.5 = 60, p99 = 60, max 60.
    assert result["lateness_seconds"] == {"count": 4, "p50": 60.0, "p99": 60.0, "max": 60.0}


def test_demo_like_histories_verify_clean(engine: Engine) -> None:
    world = simulate_histories(engine, cases=60, steps=60)

    report = run_verify(engine, world.now)

    assert report.clean, [f.to_dict() for f in report.chain_problems + report.findings][:3]
    stored = events_of_all(engine)
    assert report.cases == 60 and report.events == len(stored)
    # The simulated day really worked the cases (these depend on the bundled policies' content).
    assert len(stored) > 400 and len(report.lateness) > 50
    # The bundled v2 clocks and actions are among what was replayed (issue 15).
    kinds = {str(e.kind) for e in stored}
    assert {"replied", "clock_started", "pause_expired", "creator_replied", "acknowledged"} <= kinds


def test_a_resealed_escalation_moved_in_time_is_reported_with_both_times(
    engine: Engine, worked_cases: WorkedCases
) -> None:
    case = worked_cases.worked
    seq = seq_of(engine, case, "escalated")
    change_field(engine, case, seq, at=at(35))
    reseal(engine, case)

    report = run_verify(engine)

    assert report.chain_problems == []
    [moved] = report.findings
    assert (moved.case_id, moved.seq, moved.problem) == (case, seq, "moved")
    assert moved.recorded is not None and moved.expected is not None
    assert moved.recorded["at"] == "2026-03-02T09:35:00.000000+00:00"
    assert moved.expected["at"] == "2026-03-02T09:30:00.000000+00:00"


def test_a_resealed_deleted_breach_is_reported_missing_where_it_belonged(
    engine: Engine, worked_cases: WorkedCases
) -> None:
    case = worked_cases.worked
    seq = seq_of(engine, case, "breached")
    delete_event(engine, case, seq)
    reseal(engine, case)

    report = run_verify(engine)

    assert report.chain_problems == []
    missing = [f for f in report.findings if f.problem == "missing"]
    assert [(f.case_id, f.seq) for f in missing] == [(case, seq)]
    assert missing[0].expected is not None and missing[0].expected["data"]["stage"] == "frontline"
    assert missing[0].recorded is None


def test_a_resealed_forged_escalation_is_reported_extra(engine: Engine, worked_cases: WorkedCases) -> None:
    case = worked_cases.worked
    template = seq_of(engine, case, "notified")
    insert_event(engine, case, template + 1, template)
    reseal(engine, case)

    report = run_verify(engine)

    assert report.chain_problems == []
    extra = [f for f in report.findings if f.problem == "extra"]
    assert [(f.case_id, f.seq) for f in extra] == [(case, template + 1)]


def test_a_recorded_action_the_engine_refuses_is_named(engine: Engine, worked_cases: WorkedCases) -> None:
    case = worked_cases.worked
    seq = seq_of(engine, case, "status_changed", nth=2)  # resolve
    resolved = next(e for e in events_of(engine, case) if e.seq == seq)
    forged = {**resolved.data, "action": "reopen", "request": {"action": "reopen", "args": {}}}
    change_field(engine, case, seq, data=forged)
    reseal(engine, case)

    report = run_verify(engine)

    [failed] = report.findings
    assert (failed.case_id, failed.seq, failed.problem) == (case, seq, "replay_failed")
    assert "reopen" in failed.detail


def test_a_case_row_edited_by_hand_is_a_state_mismatch(engine: Engine, worked_cases: WorkedCases) -> None:
    from sqlalchemy import text

    from models.db import session_scope

    with session_scope(engine) as session:
        session.execute(text("UPDATE cases SET priority = 'P3' WHERE id = :c"), {"c": worked_cases.quiet})

    [finding] = run_verify(engine).findings

    assert (finding.case_id, finding.problem) == (worked_cases.quiet, "state_mismatch")
    assert finding.recorded == {"column priority": "P3"} and finding.expected == {"column priority": "P1"}


def test_a_set_priority_to_the_current_priority_is_recorded_and_replays_clean(engine: Engine) -> None:
    """Pinning the priority a case already has changes nothing visible, yet it holds the priority
    against later attribute changes: the engine records it, so the replay reproduces it."""
    register_p1(engine)
    case = open_one(engine, now=at(0)).case.id  # P1 by the partner rule
    act(engine, case, "set_priority", at(1), priority="P1")
    act(engine, case, "set_priority", at(2), priority=None)

    assert run_verify(engine).clean


def test_an_agent_event_without_its_request_is_reported(engine: Engine) -> None:
    register_p1(engine)
    case = open_one(engine, now=at(0)).case.id
    act(engine, case, "note", at(1), text="called the creator")
    seq = seq_of(engine, case, "note_added")
    change_field(engine, case, seq, data={"text": "called the creator"})
    reseal(engine, case)  # a forger who also re-seals the chain is still caught by the replay

    findings = run_verify(engine).findings

    assert [(f.case_id, f.seq) for f in findings] == [(case, seq)]


def test_overdue_timers_are_reported_without_failing(engine: Engine, worked_cases: WorkedCases) -> None:
    register_p1(engine)
    late = open_one(engine, now=at(0)).case.id
    sweep(engine, [late], at(1))

    report = run_verify(engine, now=at(20))

    assert report.clean
    assert [(o["case_id"], o["timer"], o["target"]) for o in report.overdue] == [
        (late, "at_risk", "first_response"),
        (late, "breached", "first_response"),
    ]


def test_one_case_or_the_cases_changed_since_an_instant(engine: Engine, worked_cases: WorkedCases) -> None:
    assert run_verify(engine, case_id=worked_cases.quiet).cases == 1
    assert run_verify(engine, since=at(21)).cases == 1  # only the worked case wrote after 09:20
    assert run_verify(engine, since=at(51) + timedelta(seconds=1)).cases == 0
    with pytest.raises(CaseNotFound):
        run_verify(engine, case_id="cs_nope")
