"""``not_after``: a sponsored post caps the resolution deadline at the post minus the margin, but a cap
that is already behind the clock never dates a breach before the clock started (issue 19)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from policies.model import NotAfter
from sla_engine.cases import advance, open_case
from sla_engine.kinds import EventKind
from tests.engine.builders import ALWAYS_CAL, T0, at, make_policy

FIELD = "impact.next_sponsored_post_at"


def opened_with_post(post: datetime, margin: timedelta) -> tuple[datetime | None, list[tuple[datetime, str]]]:
    """The resolution clock's deadline at opening (at T0) and the breaches of the next minute."""
    policy = make_policy(not_after=NotAfter(FIELD, margin))
    attrs = {"creator": {"tier": "standard"}, "impact": {"next_sponsored_post_at": post.isoformat()}}
    state = open_case(policy, ALWAYS_CAL, attrs, T0, "agent:ana").state
    later = advance(policy, ALWAYS_CAL, state, at(1))
    breaches = [
        (e.at, str(e.data["clock"]))
        for e in later.events
        if e.kind == EventKind.BREACHED and e.data["clock"] == "resolution"
    ]
    return state.clock("resolution").due_at, breaches


# (post, margin): each cap (post - margin) lies before the clock started at T0.
BEHIND_THE_CLOCK = {
    "post already inside the margin": (at(hours=1), timedelta(hours=2)),
    "post exactly at the margin": (at(hours=2), timedelta(hours=2)),
    "post in the past": (at(hours=-3), timedelta(hours=2)),
    "margin larger than the target": (at(hours=30), timedelta(days=2)),
}


@pytest.mark.parametrize("case", list(BEHIND_THE_CLOCK))
def test_a_cap_behind_the_clock_breaches_once_when_the_clock_starts(case: str) -> None:
    post, margin = BEHIND_THE_CLOCK[case]
    due, breaches = opened_with_post(post, margin)
    assert due == T0
    assert breaches == [(T0, "resolution")]


def test_a_cap_just_after_the_start_is_the_deadline() -> None:
    due, breaches = opened_with_post(at(hours=2, minutes=1), timedelta(hours=2))
    assert due == at(1)
    assert breaches == [(at(1), "resolution")]


def test_a_cap_later_than_the_target_leaves_the_target() -> None:
    # P2 resolution target is one day: a post two days away (margin 2 h) does not move it.
    due, breaches = opened_with_post(at(days=2), timedelta(hours=2))
    assert due == at(days=1)
    assert breaches == []
