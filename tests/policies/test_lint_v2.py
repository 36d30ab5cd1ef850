"""What the lint says about the v2 clock fields: errors for combinations that cannot work, warnings
for fields that can never take effect, and the schema's message for an unknown trigger."""

from __future__ import annotations

from typing import Any

import pytest

from policies.diagnostics import Severity
from policies.loader import check_policy_document


def diagnostics(clock: dict[str, Any]) -> list[tuple[str, str, str]]:
    doc = {
        "id": "lint-v2",
        "title": "lint v2",
        "incident_type": "account_compromised",
        "calendar": "always",
        "priority": {"default": "P2"},
        "clocks": {"c": clock},
        "stages": [{"id": "frontline", "queue": "creator-support"}],
    }
    result = check_policy_document(doc, "lint_v2.json")
    return [(d.pointer, str(d.severity), d.message) for d in result.diagnostics]


@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        (
            {"target": "PT1H", "on_warn": [{"notify": "lead"}]},
            ("/clocks/c/on_warn", "error", "on_warn runs at warn_at: give this clock a warn_at"),
        ),
        (
            {"kind": "next_reply", "target": "PT1H", "not_after": {"field": "impact.post_at"}},
            (
                "/clocks/c/not_after",
                "error",
                "not_after caps one deadline; a next_reply clock has one per cycle (use an elapsed clock)",
            ),
        ),
        (
            {"target": "PT1H", "starts_on": ["reply"], "stops_on": ["reply"]},
            ("/clocks/c/starts_on/0", "error", "'reply' would both start and stop this clock"),
        ),
        (
            {"kind": "periodic_update", "target": "PT4H", "starts_on": ["acknowledge"]},
            (
                "/clocks/c/starts_on",
                "warning",
                "a periodic_update clock runs from opening and restarts on each update; "
                "starts_on is never used",
            ),
        ),
        (
            {"target": "PT1H", "starts_on": ["resolve"]},
            ("/clocks/c/starts_on/0", "warning", "'resolve' ends the case: a clock never starts there"),
        ),
        (
            {"target": "PT1H", "pauses_on": ["close"]},
            (
                "/clocks/c/pauses_on/0",
                "warning",
                "'close' always stops every clock; pausing on it has no effect",
            ),
        ),
    ],
)
def test_v2_clock_lint(clock: dict[str, Any], expected: tuple[str, str, str]) -> None:
    assert diagnostics(clock) == [expected]


def test_an_unknown_trigger_names_statuses_and_actions() -> None:
    [(where, severity, message)] = diagnostics({"target": "PT1H", "stops_on": ["replied"]})
    assert (where, severity) == ("/clocks/c/stops_on/0", str(Severity.ERROR))
    assert message.startswith("'replied' is not a valid status or action (one of: open, acknowledged")
    assert "reply" in message and "creator_replied" in message


def test_an_unknown_kind_is_named_as_a_clock_kind() -> None:
    [(where, _, message)] = diagnostics({"kind": "first_reply", "target": "PT1H"})
    assert where == "/clocks/c/kind"
    assert message == "'first_reply' is not a valid clock kind (one of: elapsed, next_reply, periodic_update)"
