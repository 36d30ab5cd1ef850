"""``within``: an attribute's instant inside the next span from now; anything that is not an instant
(missing, unparseable, naive) never holds, rather than failing the whole priority decision."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.model import Compare, Op
from sla_engine.conditions import holds
from tests.engine.builders import T0, at

WITHIN_A_DAY = Compare("post.scheduled_at", Op.WITHIN, timedelta(days=1))


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"post": {"scheduled_at": at(hours=5).isoformat()}}, True),
        ({"post": {"scheduled_at": "2026-03-02T14:00:00Z"}}, True),
        ({"post": {"scheduled_at": at(hours=30).isoformat()}}, False),
        ({"post": {"scheduled_at": at(hours=-1).isoformat()}}, False),
        ({"post": {"scheduled_at": "tomorrow"}}, False),
        ({"post": {"scheduled_at": "2026-03-02T14:00:00"}}, False),
        ({"post": {}}, False),
        ({}, False),
    ],
)
def test_within_holds_only_for_an_instant_in_the_coming_span(attributes: dict, expected: bool) -> None:
    assert holds(WITHIN_A_DAY, attributes, T0) is expected
