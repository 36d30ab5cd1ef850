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


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"post": {"scheduled_at": T0.isoformat()}}, True),  # the span includes now
        ({"post": {"scheduled_at": at(hours=24).isoformat()}}, True),  # and its end
        ({"post": {"scheduled_at": at(hours=24, minutes=1).isoformat()}}, False),
    ],
)
def test_within_includes_both_ends_of_the_span(attributes: dict, expected: bool) -> None:
    assert holds(WITHIN_A_DAY, attributes, T0) is expected


NINE_UTC = "2026-03-02T09:00:00Z"


@pytest.mark.parametrize(
    ("actual", "op", "value", "expected"),
    [
        # instants compare as instants, whatever their offsets (as text, "10:00+02:00" > "09:00Z")
        ("2026-03-02T10:00:00+02:00", Op.GT, NINE_UTC, False),
        ("2026-03-02T10:00:00+02:00", Op.LT, NINE_UTC, True),
        ("2026-03-02T11:00:00+02:00", Op.GTE, NINE_UTC, True),
        ("2026-03-02T11:00:00+02:00", Op.LTE, NINE_UTC, True),
        ("2026-03-02T11:00:00+02:00", Op.GT, NINE_UTC, False),
        ("2026-03-02T11:00:00+02:00", Op.LT, NINE_UTC, False),
        ("2026-03-02T09:00:01Z", Op.GT, NINE_UTC, True),
        ("2026-03-02T08:59:59Z", Op.LT, NINE_UTC, True),
        # numbers as numbers, boundaries exact
        (1500, Op.GT, 1000, True),
        (1000, Op.GT, 1000, False),
        (1000, Op.GTE, 1000, True),
        (999.5, Op.LT, 1000, True),
        (1000, Op.LT, 1000, False),
        (1000, Op.LTE, 1000, True),
        (1001, Op.LTE, 1000, False),
        # what cannot be ordered never holds (never raises)
        ("lots", Op.GT, 1000, False),
        ("lots", Op.LT, 1000, False),
        (None, Op.GTE, 1000, False),
        # a naive instant is text, compared as text with text only
        ("2026-03-02T09:00:00", Op.LT, 1000, False),
        ("b", Op.GT, "a", True),
    ],
)
def test_ordered_comparisons_compare_instants_as_instants_and_refuse_mixed_types(
    actual: object, op: Op, value: object, expected: bool
) -> None:
    assert holds(Compare("impact.value", op, value), {"impact": {"value": actual}}, T0) is expected


def test_instant_values_may_be_datetimes_but_naive_ones_are_not_instants() -> None:
    aware = T0.replace(hour=8)
    assert holds(Compare("due", Op.LT, aware), {"due": "2026-03-02T07:59:00Z"}, T0) is True
    assert (
        holds(Compare("due", Op.LT, aware.replace(tzinfo=None)), {"due": "2026-03-02T07:59:00Z"}, T0) is False
    )
