"""Policy migration of one case, pure (sla_engine.migration): the deadlines of
tests/engine/migration_scenarios.json, worked out by hand, and what each mode writes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from policies.model import ClockKind, ClockSpec, Compare, Op, PriorityPolicy, PriorityRule, StageSpec
from sla_engine import cases
from sla_engine.kinds import ClockStatus, EventKind, Status
from sla_engine.migration import MigrationMode, Opening, Versioned, deadlines, migrate
from sla_engine.sentences import describe
from sla_engine.state import Meter
from tests.engine.builders import ALWAYS_CAL, PARTNER_RULE, T0, act, at, make_policy, target

DATA = json.loads((Path(__file__).parent / "migration_scenarios.json").read_text())
P2_CASE = {"creator": {"id": "cr_9", "tier": "standard"}, "impact": {"monetized": False}}


def _case(scenario: dict[str, Any]) -> tuple[Versioned, Versioned, Any, Opening]:
    old = Versioned(1, make_policy(**scenario["old"]), ALWAYS_CAL)
    new = Versioned(2, make_policy(**scenario["new"]), ALWAYS_CAL)
    actions = [act(a["action"], at(a["at"]), **a.get("args", {})) for a in scenario["actions"]]
    step = cases.replay(old.policy, ALWAYS_CAL, P2_CASE, T0, actions, T0, "agent:ana")
    opening = Opening(P2_CASE, T0, "agent:ana", Status.OPEN, actions)
    return old, new, step, opening


@pytest.mark.parametrize("scenario", DATA["scenarios"], ids=[s["name"] for s in DATA["scenarios"]])
def test_migrated_deadlines_are_those_worked_out_by_hand(scenario: dict[str, Any]) -> None:
    old, new, step, opening = _case(scenario)
    known = {e.dedupe_key for e in step.events if e.dedupe_key}
    now = at(scenario["migrate_at"])

    moved = migrate(old, new, step.state, MigrationMode(scenario["mode"]), now, "admin:root", opening, known)

    after = deadlines(moved.state) if not scenario["fired"] else moved.after
    expected = {k: None if v is None else at(v) for k, v in scenario["after"].items()}
    assert {
        "first_response": after["clocks"]["first_response"],
        "resolution": after["clocks"]["resolution"],
        "stage": after["stage"]["due_at"],
    } == expected
    kinds = [str(e.kind) for e in moved.events]
    marker = kinds.index(EventKind.POLICY_MIGRATED)
    assert kinds[:marker] == scenario["added"]
    assert kinds[marker + 1 :] == scenario["fired"]
    event = moved.events[marker]
    assert event.data["from"] == 1 and event.data["to"] == 2 and event.data["mode"] == scenario["mode"]
    assert event.data["after"] == moved.after and event.at == now


def test_recompute_records_the_new_versions_breach_at_its_own_instant() -> None:
    scenario = DATA["scenarios"][3]
    old, new, step, opening = _case(scenario)

    moved = migrate(old, new, step.state, MigrationMode.RECOMPUTE, at(100), "admin:root", opening, set())

    breach = next(e for e in moved.events if e.kind is EventKind.BREACHED)
    assert breach.at == at(15) and breach.data["clock"] == "first_response"
    assert moved.state.clock("first_response").breached_at == at(15)


def test_timers_due_under_the_old_version_fire_first_and_stay_facts() -> None:
    old = Versioned(1, make_policy(first_response="PT15M"), ALWAYS_CAL)
    new = Versioned(2, make_policy(first_response="PT4H"), ALWAYS_CAL)
    state = cases.open_case(old.policy, ALWAYS_CAL, P2_CASE, T0, "agent:ana").state

    moved = migrate(old, new, state, MigrationMode.REBASE, at(30), "admin:root")

    assert [str(e.kind) for e in moved.timed] == ["at_risk", "breached", "notified"]
    assert moved.state.clock("first_response").breached_at == at(15)  # looser targets undo no breach
    assert moved.before["clocks"]["first_response"] == at(15)


def test_keep_migrates_nothing() -> None:
    old = Versioned(1, make_policy(), ALWAYS_CAL)
    state = cases.open_case(old.policy, ALWAYS_CAL, P2_CASE, T0, "agent:ana").state
    with pytest.raises(ValueError, match="keep"):
        migrate(old, old, state, MigrationMode.KEEP, at(1), "admin:root")


def test_the_migration_event_reads_as_a_sentence() -> None:
    old = Versioned(1, make_policy(), ALWAYS_CAL)
    new = Versioned(2, make_policy(first_response="PT30M"), ALWAYS_CAL)
    state = cases.open_case(old.policy, ALWAYS_CAL, P2_CASE, T0, "agent:ana").state

    moved = migrate(old, new, state, MigrationMode.REBASE, at(1), "admin:root")

    event = next(e for e in moved.events if e.kind is EventKind.POLICY_MIGRATED)
    assert describe(event) == (
        "policy version 1 -> 2 (rebase), next deadline 2026-03-02 09:45:00+00:00 -> 2026-03-02 09:22:30+00:00"
    )


def test_a_clock_new_to_the_policy_starts_at_the_migration() -> None:
    old = Versioned(1, make_policy(), ALWAYS_CAL)
    base = make_policy()
    triage = ClockSpec("triage", target("PT2H"))
    new = Versioned(2, replace(base, clocks=(*base.clocks, triage)), ALWAYS_CAL)
    state = cases.open_case(old.policy, ALWAYS_CAL, P2_CASE, T0, "agent:ana").state

    moved = migrate(old, new, state, MigrationMode.REBASE, at(30), "admin:root")

    clock = moved.state.clock("triage")
    assert (clock.status, clock.due_at) == (ClockStatus.RUNNING, at(150))
    assert moved.after["clocks"]["triage"] == at(150)


def _rebased_with(extra: ClockSpec, status_actions: list[Any] | None = None) -> Any:
    old = Versioned(1, make_policy(), ALWAYS_CAL)
    base = make_policy()
    new = Versioned(2, replace(base, clocks=(*base.clocks, extra)), ALWAYS_CAL)
    step = cases.replay(old.policy, ALWAYS_CAL, P2_CASE, T0, status_actions or [], at(20), "agent:ana")
    return migrate(old, new, step.state, MigrationMode.REBASE, at(30), "admin:root").state.clock(extra.name)


def test_a_new_cycle_clock_starts_its_first_cycle_and_a_new_starts_on_clock_waits() -> None:
    replies = _rebased_with(ClockSpec("next_reply", target("PT1H"), kind=ClockKind.NEXT_REPLY))
    assert (replies.name, replies.status, replies.cycle, replies.due_at) == (
        "next_reply",
        ClockStatus.RUNNING,
        1,
        at(90),
    )
    waiting = _rebased_with(ClockSpec("handling", target("PT1H"), starts_on=frozenset({"start"})))
    assert (waiting.name, waiting.status, waiting.cycle, waiting.due_at) == (
        "handling",
        ClockStatus.PENDING,
        0,
        None,
    )


def test_a_new_clock_does_not_start_on_a_case_no_longer_worked() -> None:
    resolved = _rebased_with(ClockSpec("triage", target("PT2H")), [act("resolve", at(10))])
    assert (resolved.name, resolved.status, resolved.due_at) == ("triage", ClockStatus.PENDING, None)


STAGES = {
    "frontline": StageSpec("frontline", "creator-support", target("PT2H")),
    "triage": StageSpec("triage", "triage-desk", target("PT1H")),
    "security": StageSpec("security", "security-specialists", target("PT4H")),
    "lead": StageSpec("lead", "tns-leads", None),
}


@pytest.mark.parametrize(
    ("ladder", "expected"),
    [
        (("triage", "frontline", "security"), (2, "security")),  # the same id, wherever it is now
        (("frontline", "lead"), (1, "lead")),  # gone: the same place on the new ladder
        (("frontline",), (0, "frontline")),  # gone, and the ladder shorter: its last stage
    ],
)
def test_a_rebased_case_keeps_its_stage_by_id_else_by_place(
    ladder: tuple[str, ...], expected: tuple[int, str]
) -> None:
    old = Versioned(1, make_policy(), ALWAYS_CAL)
    new = Versioned(2, make_policy(stages=[STAGES[s] for s in ladder]), ALWAYS_CAL)
    state = cases.replay(
        old.policy, ALWAYS_CAL, P2_CASE, T0, [act("escalate", at(5))], at(20), "agent:ana"
    ).state
    assert (state.stage.index, state.stage.id) == (1, "security")

    moved = migrate(old, new, state, MigrationMode.REBASE, at(30), "admin:root").state

    assert (moved.stage.index, moved.stage.id) == expected


PARTNER = {"creator": {"id": "cr_1", "tier": "partner"}}
NEW_TERMS = PriorityRule(Compare("creator.tier", Op.IN, ("partner",)), "P2", 0, "partners, new terms")


def _without_p1(rules: tuple[PriorityRule, ...] = (NEW_TERMS,), default: str = "P3") -> Versioned:
    """A version with no targets for P1 (its own rules never produce it)."""
    policy = make_policy(
        first_response={"P2": "PT1H", "P3": "PT4H"},
        resolution={"P2": "P1D", "P3": "P3D"},
        stages=[StageSpec("frontline", "creator-support", target({"P2": "PT2H", "P3": "PT8H"}))],
    )
    return Versioned(2, replace(policy, priority=PriorityPolicy(default, rules)), ALWAYS_CAL)


def _partner_case(actions: list[Any]) -> Any:
    old = Versioned(1, make_policy(rules=[PARTNER_RULE]), ALWAYS_CAL)
    return old, cases.replay(old.policy, ALWAYS_CAL, PARTNER, T0, actions, at(5), "agent:ana").state


@pytest.mark.parametrize(
    ("rules", "default", "expected"),
    [
        ((NEW_TERMS,), "P3", ("P2", "rule 1: partners, new terms", at(days=1))),
        ((), "P3", ("P3", "policy default", at(days=3))),
    ],
)
def test_a_priority_the_new_version_cannot_hold_is_decided_again_by_its_rules(
    rules: tuple[PriorityRule, ...], default: str, expected: tuple[str, str, Any]
) -> None:
    old, state = _partner_case([])
    assert (state.priority, state.priority_reason) == ("P1", "rule 1: partner or top creator")

    moved = migrate(old, _without_p1(rules, default), state, MigrationMode.REBASE, at(10), "admin:root").state

    assert (moved.priority, moved.priority_reason, moved.clock("resolution").due_at) == expected


def test_a_priority_set_by_hand_the_new_version_cannot_hold_gives_way_to_its_rules() -> None:
    old, state = _partner_case([act("set_priority", at(2), priority="P1")])
    assert (state.priority, state.priority_override) == ("P1", "P1")

    moved = migrate(old, _without_p1(), state, MigrationMode.REBASE, at(10), "admin:root").state

    assert (moved.priority, moved.priority_reason, moved.priority_override) == (
        "P2",
        "rule 1: partners, new terms",
        None,
    )


def test_a_priority_the_new_version_holds_stays_with_its_reason_whatever_the_new_rules_say() -> None:
    old, state = _partner_case([act("set_priority", at(2), priority="P2")])
    new = Versioned(2, replace(make_policy(), priority=PriorityPolicy("P3", (NEW_TERMS,))), ALWAYS_CAL)

    moved = migrate(old, new, state, MigrationMode.REBASE, at(10), "admin:root").state

    assert (moved.priority, moved.priority_reason, moved.priority_override) == (
        "P2",
        "set by agent:ana",
        "P2",
    )


def test_a_migration_that_cannot_run_says_why() -> None:
    old = Versioned(1, make_policy(), ALWAYS_CAL)
    state = cases.open_case(old.policy, ALWAYS_CAL, P2_CASE, T0, "agent:ana").state
    with pytest.raises(ValueError) as kept:
        migrate(old, old, state, MigrationMode.KEEP, at(1), "admin:root")
    assert str(kept.value) == "mode keep leaves the case pinned: nothing to migrate"
    with pytest.raises(ValueError) as blind:
        migrate(old, old, state, MigrationMode.RECOMPUTE, at(1), "admin:root")
    assert str(blind.value) == "recompute needs the case's opening and recorded actions"


def test_the_migration_is_the_actors_and_reports_the_case_before_and_after() -> None:
    old = Versioned(1, make_policy(first_response="PT15M"), ALWAYS_CAL)
    new = Versioned(2, make_policy(first_response="PT4H", resolution="P2D"), ALWAYS_CAL)
    state = cases.open_case(old.policy, ALWAYS_CAL, P2_CASE, T0, "agent:ana").state

    moved = migrate(old, new, state, MigrationMode.REBASE, at(30), "admin:root")

    event = next(e for e in moved.events if e.kind is EventKind.POLICY_MIGRATED)
    assert (event.actor, event.at) == ("admin:root", at(30))
    assert moved.advanced.clock("first_response").breached_at == at(15)  # brought up to now, old rules
    assert moved.advanced.priority == "P2" and moved.advanced.updated_at == at(15)
    assert moved.before == {
        "clocks": {"first_response": at(15), "resolution": at(days=1)},
        "stage": {"id": "frontline", "due_at": at(120)},
        "next_deadline_at": at(120),
    }
    assert moved.after == {
        "clocks": {"first_response": at(15), "resolution": at(days=2)},
        "stage": {"id": "frontline", "due_at": at(120)},
        "next_deadline_at": at(120),
    }


def test_a_recompute_does_not_add_again_what_the_migration_just_fired_under_the_old_version() -> None:
    """The breach fired while the case was brought up to now is history already, even when the
    caller's known keys were read before it."""
    old = Versioned(1, make_policy(first_response="PT15M"), ALWAYS_CAL)
    new = Versioned(2, make_policy(first_response="PT15M", resolution="P2D"), ALWAYS_CAL)
    state = cases.open_case(old.policy, ALWAYS_CAL, P2_CASE, T0, "agent:ana").state
    opening = Opening(P2_CASE, T0, "agent:ana", Status.OPEN, [])

    moved = migrate(old, new, state, MigrationMode.RECOMPUTE, at(30), "admin:root", opening, set())

    assert [str(e.kind) for e in moved.timed] == ["at_risk", "breached", "notified"]
    assert [str(e.kind) for e in moved.events] == ["policy_migrated"]
    assert moved.state.updated_at == at(30)


def test_a_recompute_keeps_the_status_the_case_opened_in() -> None:
    old = Versioned(1, make_policy(), ALWAYS_CAL)
    new = Versioned(2, make_policy(resolution="P2D"), ALWAYS_CAL)
    waiting = Status.WAITING_ON_CREATOR
    state = cases.open_case(old.policy, ALWAYS_CAL, P2_CASE, T0, "agent:ana", waiting).state
    opening = Opening(P2_CASE, T0, "agent:ana", waiting, [])

    moved = migrate(old, new, state, MigrationMode.RECOMPUTE, at(10), "admin:root", opening, set())

    assert moved.state.status is waiting and moved.state.updated_at == at(10)


def test_a_new_clock_is_not_a_cycle_clock_unless_it_cycles_and_a_waiting_one_has_counted_nothing() -> None:
    plain = _rebased_with(ClockSpec("triage", target("PT2H")))
    assert (plain.cycle, plain.meter.since) == (0, at(30))
    waiting = _rebased_with(ClockSpec("handling", target("PT1H"), starts_on=frozenset({"start"})))
    assert (waiting.meter, waiting.paused) == (Meter(), Meter())
