"""The sweep's phases benchmark sweeps as a lane does: every due case once, each phase timed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from bench.sweep_phases import PHASES, sweep_in_phases
from flows.sweep_batches import earliest_deadline
from tests.casework.builders import T0
from tests.flows.scenarios import assert_exactly_once, open_cases, register_ladder


def test_the_phases_sweep_every_due_case_once_and_time_each_phase(engine: Engine) -> None:
    register_ladder(engine, timedelta(seconds=2))
    open_cases(engine, 45, T0)
    now = T0 + timedelta(hours=3)

    spent = sweep_in_phases(engine, now, limit=20)  # three batches, the last short

    assert list(spent) == list(PHASES) and all(seconds > 0 for seconds in spent.values())
    deadline = earliest_deadline(engine)
    assert deadline is None or deadline > now  # nothing left due
    assert_exactly_once(engine)
