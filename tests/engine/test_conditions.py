"""``within``: an attribute's instant inside the next span from now; anything that is not an instant
(missing, unparseable, naive) never holds, rather than failing the whole priority decision."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.model import AllOf, AnyOf, Compare, Not, Op
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


SOON = {"post": {"scheduled_at": at(hours=5).isoformat()}}
LATER = {"post": {"scheduled_at": at(hours=30).isoformat()}}


@pytest.mark.parametrize(
    ("condition", "attributes", "expected"),
    [
        (AnyOf((Compare("x", Op.EQ, 1), WITHIN_A_DAY)), SOON, True),
        (AnyOf((Compare("x", Op.EQ, 1), WITHIN_A_DAY)), LATER, False),
        (Not(WITHIN_A_DAY), LATER, True),
        (Not(WITHIN_A_DAY), SOON, False),
        (AllOf((Not(Compare("x", Op.EQ, 1)), WITHIN_A_DAY)), SOON, True),
    ],
)
def test_within_inside_any_all_and_not_is_judged_at_the_same_now(condition, attributes, expected) -> None:
    assert holds(condition, attributes, T0) is expected


@pytest.mark.parametrize(
    ("value", "attributes", "expected"),
    [
        (None, {"x": 0}, True),  # exists (no value): present, even falsy
        (True, {}, False),
        (False, {}, True),  # exists: false holds when the field is absent
        (False, {"x": None}, True),  # or null
        (False, {"x": "set"}, False),
        (0, {}, True),  # a falsy value reads as false
    ],
)
def test_exists_with_true_or_false(value, attributes, expected) -> None:
    assert holds(Compare("x", Op.EXISTS, value), attributes, T0) is expected


@pytest.mark.parametrize("op", [Op.NE, Op.NOT_IN, Op.EQ, Op.LT, Op.GT])
def test_a_missing_field_satisfies_no_comparison_not_even_a_negative_one(op: Op) -> None:
    value = ("a",) if op is Op.NOT_IN else "a"
    assert holds(Compare("creator.tier", op, value), {"creator": {}}, T0) is False


def test_a_naive_datetime_attribute_is_not_an_instant() -> None:
    naive = {"post": {"scheduled_at": at(hours=5).replace(tzinfo=None)}}
    aware = {"post": {"scheduled_at": at(hours=5)}}
    assert (holds(WITHIN_A_DAY, naive, T0), holds(WITHIN_A_DAY, aware, T0)) == (False, True)
